"""No event is lost: a broker outage mid-run, and a daemon killed with its queue full."""

import contextlib
import json
import os
import re
import signal
import sqlite3
import time
from datetime import datetime

import cv2
import numpy as np

from tests.conftest import FRAMES_PER_SCENE, TOPIC, link_still_sequences, start_daemon
from workbench.local_broker import Listener, LocalBroker

EVENTS = f"{TOPIC}/events"


def queued_seqs(path):
    """The queued seqs, read through the WAL by a read-only connection, which (unlike a
    writable one closing last) does not checkpoint: a killed daemon's WAL stays as a power
    cut leaves it for the next start."""
    if not path.exists():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        try:
            return [row[0] for row in db.execute("SELECT seq FROM events ORDER BY seq")]
        except sqlite3.OperationalError:  # created, schema not written yet
            return []


def seconds(iso):
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_a_ten_second_broker_outage_mid_run_loses_nothing_and_keeps_the_order(
    clear_faces, tmp_path
):
    frames = tmp_path / "frames"
    frames.mkdir()
    link_still_sequences(frames, clear_faces, FRAMES_PER_SCENE)
    broker = LocalBroker(persistent=True).start()  # keeps the listener's session and queue
    listener = Listener(broker.port, EVENTS, session="outage-test")
    daemon = start_daemon(
        broker, frames, "--set", "source.interval=0.7", "--set", "mqtt.reconnect_max=2"
    )
    try:
        assert listener.wait_for(lambda lst: lst.payloads(EVENTS), timeout=60)
        broker.stop()
        down, up = time.time(), time.time() + 10
        time.sleep(10)
        broker.start()
        _, stderr = daemon.communicate(timeout=90)
        assert daemon.returncode == 0, stderr
        made = int(re.search(r"(\d+) events in", stderr).group(1))
        arrived = listener.wait_for(lambda lst: len(lst.payloads(EVENTS)) >= made, 30)
        events = [json.loads(p) for p in listener.payloads(EVENTS)]
        assert arrived, f"{[e['seq'] for e in events]} of {made}; daemon said:\n{stderr}"
        assert [e["seq"] for e in events] == list(range(1, made + 1))
        during = [e for e in events if down < seconds(e["last_seen"]) < up]
        assert len(during) >= 2, "the outage should have covered events"
        assert "lost the broker" in stderr
    finally:
        if daemon.poll() is None:
            daemon.kill()
        listener.close()
        broker.stop()


def test_events_queued_when_the_daemon_is_killed_are_sent_after_the_restart(clear_faces, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    link_still_sequences(frames, clear_faces, FRAMES_PER_SCENE)
    queue = tmp_path / "state" / "events.sqlite3"
    with LocalBroker() as broker:
        broker.stop()  # the broker is away: events pile up in the queue
        daemon = start_daemon(broker, frames, "--set", "source.interval=0.2", queue=queue)
        try:
            deadline = time.monotonic() + 60
            while len(queued_seqs(queue)) < 4 and time.monotonic() < deadline:
                time.sleep(0.1)
            os.kill(daemon.pid, signal.SIGKILL)  # a power cut, as far as the daemon knows
            daemon.wait(10)
        finally:
            if daemon.poll() is None:
                daemon.kill()
        queued = queued_seqs(queue)
        assert len(queued) >= 4 and queued == list(range(1, len(queued) + 1))
        assert queue.with_name("events.sqlite3-wal").stat().st_size > 0  # not checkpointed

        broker.start()
        listener = Listener(broker.port, EVENTS)
        nobody = tmp_path / "nobody"
        nobody.mkdir()
        cv2.imwrite(str(nobody / "empty.jpg"), np.full((240, 320, 3), 127, np.uint8))
        restarted = start_daemon(broker, nobody, queue=queue)
        _, stderr = restarted.communicate(timeout=60)
        assert restarted.returncode == 0, stderr
        assert f"{len(queued)} events queued by an earlier run are sent first" in stderr
        assert listener.wait_for(lambda lst: len(lst.payloads(EVENTS)) > len(queued), 20)
        time.sleep(0.5)  # the rest of the restarted run's events, if any
        events = [json.loads(p) for p in listener.payloads(EVENTS)]
        before, after = events[: len(queued)], events[len(queued) :]
        assert [e["seq"] for e in before] == queued
        # The people in view when the daemon was killed get their end, marked as recovered.
        in_view = {e["track_id"] for e in before if e["type"] == "new"} - {
            e["track_id"] for e in before if e["type"] == "end"
        }
        assert in_view and sorted(e["track_id"] for e in after) == sorted(in_view)
        assert all(e["type"] == "end" and e["recovered"] for e in after)
        assert {e["run_id"] for e in after} == {before[0]["run_id"]}
        assert [e["seq"] for e in after] == list(range(queued[-1] + 1, queued[-1] + 1 + len(after)))
        listener.close()
        assert queued_seqs(queue) == []  # acknowledged, so gone from the queue
