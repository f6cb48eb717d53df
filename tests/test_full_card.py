"""A full, read-only or garbled SD card never stops the daemon: events are held in memory
and still delivered, the card is used again once it takes writes, and exit 78 stays for
configuration errors only. Against a real mosquitto, with the broker down meanwhile."""

import contextlib
import json
import os
import re
import signal
import subprocess
import threading

import pytest

from maskwatch.core.errors import EXIT_CONFIG
from maskwatch.publish.event_queue import EventQueue
from tests.conftest import CONFIG, ROOT, TOPIC, maskwatch, start_daemon, wait_until
from tests.mjpeg_camera import empty_scene
from workbench.local_broker import Listener, LocalBroker

EVENTS = f"{TOPIC}/events"
QUEUE_TOPIC = f"{TOPIC}/queue"


class Stderr:
    """The daemon's stderr, read as it comes."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def finish(self) -> None:
        self._thread.join(10)

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stderr:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)


@contextlib.contextmanager
def tmpfs(folder, size):
    """A small card of its own. Mounting needs root: never skipped, a user namespace does."""
    if os.geteuid() != 0:
        pytest.fail("mounting a tmpfs (a card that fills up or turns read-only) needs root: "
                    "run as root, or in a user namespace: unshare --map-root-user --mount "
                    ".venv/bin/python -m pytest ...")  # fmt: skip
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                   check=True)  # fmt: skip
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def remount(folder, options):
    subprocess.run(["mount", "-o", f"remount,{options}", str(folder)], check=True)


def run_through_a_card_failure(still_frames, queue, overrides, fail, heal):
    """Broker down, events pile up, the card fails (``fail``), the broker comes back and
    the card heals (``heal``): returns the daemon's stderr and the events delivered."""
    broker = LocalBroker(persistent=True).start()
    listener = Listener(broker.port, "maskwatch/#", session="full-card-test")
    broker.stop()
    # People end 0.3 s after their photo leaves (not 2 s), so each loop through the photos
    # brings new people and the events keep piling up whatever the detector's boxes.
    daemon = start_daemon(broker, still_frames, "--set", "source.loop=true",
                          "--set", "source.interval=0.05", "--set", "mqtt.reconnect_max=1",
                          "--set", "tracking.end_after=0.3",
                          "--set", "queue.retry_interval=1", *overrides, queue=queue)  # fmt: skip
    stderr = Stderr(daemon)
    try:
        assert wait_until(queue.exists, 60), stderr.text
        fail()
        assert wait_until(lambda: "holding events in memory" in stderr.text, 60), stderr.text
        assert daemon.poll() is None, stderr.text  # alive with the card failing
        broker.start()
        assert listener.wait_for(lambda lst: any(  # Home Assistant hears of the problem
            json.loads(p)["state"] == "memory" for p in lst.payloads(QUEUE_TOPIC)), 30)  # fmt: skip
        heal()
        assert listener.wait_for(
            lambda lst: any(json.loads(p)["state"] == "disk" for p in lst.payloads(QUEUE_TOPIC)
                            if json.loads(p)["reason"] == ""), 60
        ), stderr.text  # fmt: skip
        assert daemon.poll() is None, stderr.text
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(15) == 0, stderr.text
        stderr.finish()
        made = int(re.search(r"(\d+) events in", stderr.text).group(1))
        assert listener.wait_for(lambda lst: len(lst.payloads(EVENTS)) >= made, 30), stderr.text
        return stderr.text, [json.loads(p) for p in listener.payloads(EVENTS)], listener
    finally:
        if daemon.poll() is None:
            daemon.kill()
        listener.close()
        broker.stop()


def check_nothing_lost(stderr, events, listener, first=1):
    assert "Traceback" not in stderr
    assert stderr.count("holding events in memory") >= 1
    assert "takes writes again" in stderr
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(first, first + len(seqs))), seqs  # in order, none lost or twice
    health = [json.loads(p) for p in listener.payloads(QUEUE_TOPIC)]
    assert health[-1] == {"state": "disk", "reason": "", "lost": 0}
    assert any(h["state"] == "memory" and h["reason"] for h in health)


def test_a_queue_file_at_its_size_cap_is_a_full_card(still_frames, tmp_path):
    """SQLite's max_page_count (queue.max_mb) fails writes with SQLITE_FULL, no mount needed."""
    queue = tmp_path / "state" / "events.sqlite3"
    result = run_through_a_card_failure(still_frames, queue, ["--set", "queue.max_mb=0.032"],
                                        fail=lambda: None, heal=lambda: None)  # fmt: skip
    check_nothing_lost(*result)
    assert "database or disk is full" in result[0]


def test_a_full_tmpfs_mid_run(still_frames, tmp_path):
    with tmpfs(tmp_path / "card", "48k") as card:
        result = run_through_a_card_failure(still_frames, card / "events.sqlite3", [],
                                            fail=lambda: None,
                                            heal=lambda: remount(card, "size=4m"))  # fmt: skip
    check_nothing_lost(*result)


def test_a_state_directory_remounted_read_only(still_frames, tmp_path):
    """Linux refuses to remount a file system read-only while files on it are open for
    writing (mount(8) says busy), as the kernel does after I/O errors: so the card is
    read-only from the start here, with last run's queue on it, and made writable later."""
    with tmpfs(tmp_path / "card", "4m") as card:
        last_run = EventQueue(card / "events.sqlite3", max_events=100)
        last_run.remove([last_run.append(lambda seq: "{}") for _ in range(3)])  # delivered
        last_run.close()
        remount(card, "ro")
        result = run_through_a_card_failure(still_frames, card / "events.sqlite3", [],
                                            fail=lambda: None,
                                            heal=lambda: remount(card, "rw"))  # fmt: skip
    check_nothing_lost(*result, first=4)  # numbering goes on from the read-only file's


def test_a_garbage_queue_file_at_start_is_set_aside_and_the_daemon_runs(broker, still_frames,
                                                                         tmp_path):  # fmt: skip
    queue = tmp_path / "state" / "events.sqlite3"
    queue.parent.mkdir()
    queue.write_bytes(b"\x13\x37 not a database, an SD card after a power cut " * 50)
    listener = Listener(broker.port, EVENTS)
    daemon = start_daemon(broker, still_frames, queue=queue)
    _, stderr = daemon.communicate(timeout=120)
    assert daemon.returncode == 0, stderr
    assert f"the event queue {queue} was corrupt" in stderr and "Traceback" not in stderr
    (aside,) = queue.parent.glob("events.sqlite3.corrupt-*")
    assert aside.read_bytes().startswith(b"\x13\x37 not a database")
    assert listener.wait_for(lambda lst: lst.payloads(EVENTS), 20)
    listener.close()


def fill_to_the_cap(path):
    """A queue file at queue.max_mb = 0.032 (8 pages), as a full card leaves it."""
    queue = EventQueue(path, max_events=10000, max_pages=8)
    with pytest.raises(Exception, match="database or disk is full"):
        for _ in range(100):
            queue.append(lambda seq: json.dumps({"seq": seq, "pad": "x" * 1000}))
    queued = queue.depth()
    queue.close()
    return queued


def test_a_daemon_restarted_on_a_full_card_runs_and_delivers_what_was_queued(broker, tmp_path):
    """What systemd's restart meets after a full card killed the old daemon (exit 78 then)."""
    path = tmp_path / "state" / "events.sqlite3"
    path.parent.mkdir()
    queued = fill_to_the_cap(path)
    listener = Listener(broker.port, EVENTS)
    nobody = tmp_path / "nobody"
    nobody.mkdir()
    (nobody / "empty.jpg").write_bytes(empty_scene())
    daemon = start_daemon(broker, nobody, "--set", "queue.max_mb=0.032", queue=path)
    _, stderr = daemon.communicate(timeout=120)
    assert daemon.returncode == 0, stderr
    assert listener.wait_for(lambda lst: len(lst.payloads(EVENTS)) == queued, 20), stderr
    listener.close()


def test_check_reports_a_full_queue_as_degraded_with_the_reason(tmp_path):
    path = tmp_path / "events.sqlite3"
    fill_to_the_cap(path)
    result = maskwatch("check", "--config", str(CONFIG), "--set", f"queue.path={path}",
                       "--set", "queue.max_mb=0.032")  # fmt: skip
    line = next(x for x in result.stdout.splitlines() if x.startswith("queue: "))
    assert line.startswith("queue: FAIL, degraded, events would be held in memory only: ")
    assert "database or disk is full" in line and "free space on the card" in line


def test_the_unit_restarts_on_every_failure_but_78():
    unit = (ROOT / "systemd" / "maskwatch.service").read_text()
    settings = [line for line in unit.splitlines() if line.startswith("Restart")]
    assert settings == ["Restart=on-failure", "RestartSec=5", "RestartPreventExitStatus=78"]


def test_exit_78_stays_for_configuration_errors(tmp_path):
    """A queue path the configuration got wrong is still a config error (no restart)."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = maskwatch("run", "--config", str(CONFIG),
                       "--set", f"queue.path={blocker / 'events.sqlite3'}")  # fmt: skip
    assert result.returncode == EXIT_CONFIG
    assert "queue.path" in result.stderr and "cannot make its folder" in result.stderr


def test_a_daemon_started_on_a_full_tmpfs_runs(broker, tmp_path):
    """The reported failure: a full card at start used to be exit 78, and no restart."""
    with tmpfs(tmp_path / "card", "256k") as card:
        queue = EventQueue(card / "events.sqlite3", max_events=10000)
        with pytest.raises(Exception, match="database or disk is full"):
            for _ in range(1000):
                queue.append(lambda seq: json.dumps({"seq": seq, "pad": "x" * 1000}))
        queue.close()
        with contextlib.suppress(OSError), (card / "filler").open("wb") as filler:
            filler.write(b"\0" * 262144)  # whatever room is left
        frames = tmp_path / "frames"
        frames.mkdir()
        (frames / "empty.jpg").write_bytes(empty_scene())
        daemon = start_daemon(broker, frames, queue=card / "events.sqlite3")
        _, stderr = daemon.communicate(timeout=120)
    assert daemon.returncode == 0, stderr
    assert "holding events in memory" in stderr and "Traceback" not in stderr


def test_a_card_of_its_own_fails_loudly_without_root(tmp_path, monkeypatch):
    """Not root: the card tests fail, naming the way to run them; they never skip."""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    card = tmpfs(tmp_path / "card", "1m")
    with pytest.raises(pytest.fail.Exception, match="unshare --map-root-user --mount"):
        card.__enter__()
    assert not (tmp_path / "card").exists()  # nothing made, nothing mounted
