"""What systemd and a Pi owner see: notifications, ``check``, ``replay``, bad inputs."""

import json
import os
import shutil
import socket
import tempfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from maskwatch.core.errors import EXIT_CONFIG
from maskwatch.core.labels import CLASSIFIER_LABELS
from tests.conftest import (
    CONFIG,
    error_lines,
    maskwatch,
    start_daemon,
)
from workbench.local_broker import free_port


@pytest.fixture
def notify_socket():
    """A datagram socket standing in for systemd's (short path: AF_UNIX allows 108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="mw-") as folder:
        path = Path(folder) / "notify"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(path))
        sock.settimeout(0.2)
        yield sock, path
        sock.close()


def test_systemd_hears_ready_watchdog_status_and_stopping(broker, still_frames, notify_socket):
    sock, path = notify_socket
    env = {**os.environ, "NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "300000"}
    daemon = start_daemon(broker, still_frames, "--set", "source.interval=0.1",
                          "--set", "mqtt.stats_interval=0.5", env=env)  # fmt: skip
    messages = []
    while daemon.poll() is None or messages[-1:] != ["STOPPING=1"]:
        try:
            messages.append(sock.recv(4096).decode())
        except TimeoutError:
            if daemon.poll() is not None:
                break
    _, stderr = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, stderr
    assert messages[0].startswith("READY=1\nSTATUS=")
    pings = [m for m in messages if m.startswith("WATCHDOG=1")]
    assert len(pings) >= 3  # 24 frames at 0.1 s, one ping per 0.15 s at most
    assert all(" fps" in m and "in view, queue" in m for m in pings)
    assert any(" detector runs/frame, " in m and " CPU s/h, " in m for m in pings)
    assert messages[-1] == "STOPPING=1"


def test_check_passes_on_a_ready_device_and_reads_environment_overrides(broker, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "empty.jpg"), np.full((240, 320, 3), 127, np.uint8))
    env = {**os.environ, "MASKWATCH__MQTT__PORT": str(broker.port),
           "MASKWATCH__SOURCE__PATH": str(frames),
           "MASKWATCH__QUEUE__PATH": str(tmp_path / "q.sqlite3")}  # fmt: skip
    result = maskwatch("check", "--config", str(CONFIG), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "config",
        "bundle",
        "source",
        "queue",
        "broker",
    ]
    assert all(": ok, " in line for line in lines)
    assert "images: first frame 320x240" in lines[2]
    assert lines[4] == f"broker: ok, 127.0.0.1:{broker.port}"


def test_check_fails_with_one_line_per_broken_part(bundle_dir, tmp_path):
    broken = tmp_path / "bundle"
    shutil.copytree(bundle_dir, broken)
    model = broken / "mask_classifier_int8.tflite"
    model.write_bytes(model.read_bytes()[:1000])  # a truncated copy
    result = maskwatch("check", "--config", str(CONFIG), "--set", f"bundle.path={broken}",
                       "--set", f"source.path={tmp_path / 'absent'}",
                       "--set", f"mqtt.port={free_port()}",
                       "--set", f"queue.path={tmp_path / 'q.sqlite3'}")  # fmt: skip
    assert result.returncode == 1
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert lines["bundle"].startswith("FAIL, ") and "mask_classifier_int8.tflite" in lines["bundle"]
    assert lines["source"].startswith("FAIL, source.path") and "absent" in lines["source"]
    assert lines["queue"].startswith("ok, ")
    assert lines["broker"].startswith("FAIL, 127.0.0.1:") and "unreachable" in lines["broker"]


def test_a_truncated_model_stops_the_daemon_with_one_line_and_exit_78(bundle_dir, tmp_path):
    broken = tmp_path / "bundle"
    shutil.copytree(bundle_dir, broken)
    model = broken / "mask_classifier_int8.tflite"
    model.write_bytes(model.read_bytes()[:1000])
    result = maskwatch("run", "--config", str(CONFIG), "--set", f"bundle.path={broken}",
                       "--set", f"queue.path={tmp_path / 'q.sqlite3'}")  # fmt: skip
    assert result.returncode == EXIT_CONFIG
    errors = error_lines(result.stderr)
    assert len(errors) == 1 and "mask_classifier_int8.tflite" in errors[0], result.stderr


def test_a_garbage_image_is_one_warning_and_the_daemon_goes_on(broker, data_root, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "a.jpg").symlink_to(data_root / "scenes-voc" / "images" / "maksssksksss0.jpg")
    (frames / "b.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    env = {**os.environ, "JOURNAL_STREAM": "8:12345"}  # as under systemd
    daemon = start_daemon(broker, frames, env=env)
    _, stderr = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, stderr
    warnings = [line for line in stderr.splitlines() if "b.jpg" in line]
    assert len(warnings) == 1 and "not a readable image" in warnings[0]
    # journald reads the level from the <N> prefix and adds the time itself.
    assert warnings[0].startswith("<4>maskwatch.service.sources: skipping frame: ")
    assert "processed 1 frames" in stderr


def test_replay_writes_the_events_and_an_annotated_video(clear_faces, tmp_path):
    """Each clear test photo shown for 3 s of a 4 fps video: one person, one new, one end."""
    video = tmp_path / "door.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 4, (640, 480))
    images = sorted({f.image for faces in clear_faces.values() for f in faces})
    for image in images:
        frame = cv2.resize(cv2.imread(str(image)), (640, 480))
        for _ in range(12):
            writer.write(frame)
    writer.release()
    events_path, annotated = tmp_path / "events.jsonl", tmp_path / "annotated.mp4"
    result = maskwatch("replay", str(video), "--config", str(CONFIG),
                       "--events", str(events_path), "--annotate", str(annotated))  # fmt: skip
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in events_path.read_text().splitlines()]
    assert f"{video}: {len(events)} events to {events_path}" in result.stdout
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    news = Counter(e["track_id"] for e in events if e["type"] == "new")
    ends = Counter(e["track_id"] for e in events if e["type"] == "end")
    assert news and set(news.values()) == {1} and news == ends
    # Both clear labels are announced; the three-label model may call a frame's face
    # mask_incorrect on the way (an update), which is still one person.
    assert {"mask", "no_mask"} <= {e["label"] for e in events} <= set(CLASSIFIER_LABELS)
    capture = cv2.VideoCapture(str(annotated))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 12 * len(images)
    capture.release()


def test_replay_to_an_unwritable_annotation_path_is_one_line(data_root, tmp_path):
    video = tmp_path / "door.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 4, (320, 240))
    frame = cv2.resize(cv2.imread(str(data_root / "scenes-voc" / "images" / "maksssksksss0.jpg")),
                       (320, 240))  # fmt: skip
    for _ in range(3):
        writer.write(frame)
    writer.release()
    unwritable = tmp_path / "absent" / "annotated.mp4"
    result = maskwatch("replay", str(video), "--events", str(tmp_path / "events.jsonl"),
                       "--annotate", str(unwritable))  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert error_lines(result.stderr) == [
        f"maskwatch: error: --annotate {unwritable}: OpenCV cannot write this video; give a "
        "writable path ending in .mp4"
    ]
