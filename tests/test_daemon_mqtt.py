"""The daemon against a real mosquitto, over real held-out scenes with known labels."""

import json
import os
import signal
import time
from collections import Counter

import cv2

from tests.conftest import FRAMES_PER_SCENE, TOPIC, link_still_sequences, start_daemon
from workbench.local_broker import Listener


def iou(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area if area else 0.0


def went_offline(listener):
    return listener.payloads(f"{TOPIC}/availability")[-1:] == [b"offline"]


def test_events_arrive_with_the_ground_truth_labels(broker, clear_faces, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    offsets = link_still_sequences(frames, clear_faces, FRAMES_PER_SCENE)
    listener = Listener(broker.port, f"{TOPIC}/#")
    # The photos follow each other within end_after, each person where an earlier one
    # stood a moment ago (no one walks away: they vanish and the next appears); a still
    # camera sees its own person at IoU ~0.9 from frame to frame, so a stricter link, and
    # none by distance, keeps two photos' people apart.
    daemon = start_daemon(
        broker, frames, "--set", "tracking.min_iou=0.5", "--set", "tracking.max_shift=0"
    )
    _, stderr = daemon.communicate(timeout=120)
    assert daemon.returncode == 0, stderr
    assert listener.wait_for(lambda lst: b"offline" in lst.payloads(f"{TOPIC}/availability"))
    listener.close()

    assert listener.payloads(f"{TOPIC}/availability") == [b"online", b"offline"]
    # Retained state follows who is in view; the alarm is ON while anyone unmasked is.
    alarms = listener.payloads(f"{TOPIC}/no_mask")
    assert alarms[0] == b"OFF" and b"ON" in alarms and alarms[-1] == b"OFF"
    states = [json.loads(p) for p in listener.payloads(f"{TOPIC}/state")]
    assert states[-1] == {"faces": 0, "mask": 0, "no_mask": 0, "mask_incorrect": 0}
    assert any(s["no_mask"] > 0 for s in states) and any(s["mask"] > 0 for s in states)
    assert all(s["faces"] == s["mask"] + s["no_mask"] + s["mask_incorrect"] for s in states)
    events = [json.loads(p) for p in listener.payloads(f"{TOPIC}/events")]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    for event in events:
        assert (
            event["v"] == 1
            and event["type"] in ("new", "update", "end")
            and event["device"] == "front-door"
        )
        assert event["label"] in ("mask", "no_mask", "mask_incorrect") and 0 <= event["score"] <= 1
        assert len(event["event_id"]) == 32 and event["first_seen"].endswith("Z")
        assert len(event["box"]) == 4 and len(event["frame"]) == 2
    # Each person seen in a still sequence is one track: exactly one new, then one end.
    news = Counter(e["track_id"] for e in events if e["type"] == "new")
    ends = Counter(e["track_id"] for e in events if e["type"] == "end")
    assert news and set(news.values()) == {1} and news == ends
    events = [e for e in events if e["type"] == "new"]
    for label, faces in clear_faces.items():
        hits = []
        for face in faces:
            height, width = cv2.imread(str(face.image)).shape[:2]
            x1, y1, x2, y2 = face.box
            shift = offsets[face.image]
            frame_events = [
                e
                for e in events
                if e["frame"] == [2 * width, height]
                and iou(e["box"], (x1 + shift, y1, x2 + shift, y2)) >= 0.4
            ]
            hits.append(any(e["label"] == label for e in frame_events))
        # Each clearly visible face is found and labelled as annotated (2 of 3 at least).
        assert sum(hits) >= 2, f"{label}: {hits}"


def test_the_last_will_marks_a_killed_daemon_offline(broker, data_root, tmp_path):
    listener = Listener(broker.port, f"{TOPIC}/availability")
    daemon = start_daemon(
        broker,
        data_root / "scenes-voc" / "images",
        "--set",
        "source.loop=true",
        "--set",
        "mqtt.keepalive=5",
    )
    try:
        assert listener.wait_for(lambda lst: lst.payloads(f"{TOPIC}/availability"), timeout=60)
        assert listener.payloads(f"{TOPIC}/availability") == [b"online"]
        os.kill(daemon.pid, signal.SIGKILL)
        daemon.wait(10)
        # The broker notices the dead connection (socket closed) and publishes the will.
        assert listener.wait_for(went_offline, timeout=20)
    finally:
        if daemon.poll() is None:
            daemon.kill()
        listener.close()
    retained = Listener(broker.port, f"{TOPIC}/availability")
    assert retained.wait_for(lambda lst: lst.messages, timeout=5)
    assert retained.messages[0] == (f"{TOPIC}/availability", b"offline", True)
    retained.close()


def test_sigterm_publishes_offline_and_exits_cleanly(broker, data_root):
    listener = Listener(broker.port, f"{TOPIC}/#")
    daemon = start_daemon(broker, data_root / "scenes-voc" / "images", "--set", "source.loop=true")
    try:
        assert listener.wait_for(lambda lst: lst.payloads(f"{TOPIC}/events"), timeout=60)
        started = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(10)
        assert time.monotonic() - started < 5
        assert daemon.returncode == 0, daemon.stderr.read()
        assert listener.wait_for(went_offline, timeout=5)
    finally:
        if daemon.poll() is None:
            daemon.kill()
        listener.close()
