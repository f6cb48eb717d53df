"""The daemon in-process against a real broker: systemd's watchdog is fed only while all
of its threads live, and a failure while stopping never hides what stopped it."""

import contextlib
import socket
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import pytest

from maskwatch.core.config import load_config
from maskwatch.service.daemon import Daemon, StopFlag
from tests.conftest import CONFIG, FRAMES_PER_SCENE


def daemon_for(broker, frames, tmp_path, *overrides):
    queue = tmp_path / "q.sqlite3"
    config = load_config(CONFIG, [f"mqtt.port={broker.port}", f"source.path={frames}",
                                  f"queue.path={queue}", *overrides], {})  # fmt: skip
    return Daemon(config)


@pytest.fixture
def notify_socket(monkeypatch):
    with tempfile.TemporaryDirectory(prefix="mw-") as folder:
        path = Path(folder) / "notify"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(path))
        sock.settimeout(0.1)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.setenv("WATCHDOG_USEC", "200000")  # a ping every 0.1 s at most
        yield sock
        sock.close()


def pings_within(sock, seconds):
    deadline, pings = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            pings += sock.recv(4096).startswith(b"WATCHDOG=1")
    return pings


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_the_watchdog_starves_when_the_sender_keeps_dying(
    broker, still_frames, tmp_path, notify_socket, caplog
):
    daemon = daemon_for(broker, still_frames, tmp_path, "source.loop=true",
                        "source.interval=0.02")  # fmt: skip
    stop = StopFlag()
    runner = threading.Thread(target=daemon.run, args=(stop,))
    runner.start()
    try:
        assert pings_within(notify_socket, 3.0) >= 5  # healthy: fed

        def dies():
            raise SystemExit  # ends the thread, as a bug the guard cannot catch would

        daemon.publisher._send_some = dies
        daemon.publisher._wake.set()
        time.sleep(1.0)  # died, restarted once, died again: left dead
        pings_within(notify_socket, 0.2)  # what was sent before
        assert "the MQTT sender thread died; restarting it" in caplog.text
        frames = daemon.rate.frames
        assert pings_within(notify_socket, 1.5) == 0  # systemd will restart the daemon
        assert daemon.rate.frames > frames  # while the frame loop itself runs on
    finally:
        stop.event.set()
        runner.join(30)
    assert not runner.is_alive()


def test_a_failure_while_stopping_does_not_hide_the_error_that_stopped_the_loop(
    broker, still_frames, tmp_path, caplog
):
    daemon = daemon_for(broker, still_frames, tmp_path, "source.loop=true")
    detect, frames = daemon.pipeline.detect_faces, []

    def breaks_after_people_are_in_view(image, regions=None, times=None):
        frames.append(1)
        if len(frames) > FRAMES_PER_SCENE:

            def disk_gone(make_payload, in_view=None):
                raise sqlite3.OperationalError("disk I/O error")

            daemon.publisher.queue.append = disk_gone  # the "end" events cannot be stored
            raise RuntimeError("the pipeline broke")
        return detect(image, regions, times)

    daemon.pipeline.detect_faces = breaks_after_people_are_in_view
    with pytest.raises(RuntimeError, match="the pipeline broke"):
        daemon.run(StopFlag())
    assert "while stopping, ending the tracks failed: OperationalError: disk I/O error" in (
        caplog.text
    )
