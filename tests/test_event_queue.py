"""The durable event queue on a real SQLite file."""

import json
import re
import signal
import sqlite3
import subprocess
import sys

import pytest

from maskwatch.core.errors import ConfigError
from maskwatch.publish.event_queue import EventQueue
from maskwatch.publish.outbox import Outbox
from tests.test_full_card import remount, tmpfs


def payload(seq):
    return json.dumps({"seq": seq})


def test_events_are_numbered_and_kept_across_a_restart(tmp_path):
    path = tmp_path / "events.sqlite3"
    queue = EventQueue(path, max_events=100)
    assert [queue.append(payload) for _ in range(3)] == [1, 2, 3]
    queue.remove([2])
    queue.close()

    reopened = EventQueue(path, max_events=100)  # after a clean stop (a killed writer: below)
    queued = reopened.after(0, 10)
    assert [(e.seq, json.loads(e.payload)["seq"]) for e in queued] == [(1, 1), (3, 3)]
    assert reopened.append(payload) == 4  # seq keeps rising, never reused
    assert [e.seq for e in reopened.after(1, 10)] == [3, 4]
    assert [e.seq for e in reopened.after(0, 1)] == [1]
    reopened.close()


def test_the_queue_is_a_wal_database(tmp_path):
    path = tmp_path / "events.sqlite3"
    EventQueue(path, max_events=10).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_overflow_drops_the_oldest_and_counts_them(tmp_path, caplog):
    path = tmp_path / "events.sqlite3"
    queue = EventQueue(path, max_events=3)
    for _ in range(5):
        queue.append(payload)
    assert [e.seq for e in queue.after(0, 10)] == [3, 4, 5]
    assert queue.depth() == 3 and queue.overflowed() == 2
    assert "event queue full (3 events): dropped the oldest 1" in caplog.text
    queue.close()
    assert EventQueue(path, max_events=3).overflowed() == 2  # the count survives restarts


def test_an_unwritable_queue_path_is_one_config_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError) as caught:
        EventQueue(blocker / "events.sqlite3", max_events=10)
    message = str(caught.value)
    assert message.startswith(f"queue.path {blocker / 'events.sqlite3'}: cannot make its folder")
    assert "\n" not in message


def test_acknowledged_events_leave_in_one_batch_and_people_in_view_are_remembered(tmp_path):
    path = tmp_path / "events.sqlite3"
    queue = EventQueue(path, max_events=100)
    for _ in range(2):
        queue.append(payload)
    queue.append(payload, ("run/1", {"track_id": 1, "type": "new"}))
    queue.append(payload, ("run/2", {"track_id": 2, "type": "new"}))
    queue.append(payload, ("run/1", {"track_id": 1, "type": "update"}))
    queue.append(payload, ("run/2", None))  # ended
    queue.remove([1, 2, 4])
    queue.close()
    reopened = EventQueue(path, max_events=100)
    assert [e.seq for e in reopened.after(0, 10)] == [3, 5, 6]
    assert reopened.left_in_view() == [{"track_id": 1, "type": "update"}]
    reopened.close()


def test_a_garbage_queue_file_is_set_aside_and_a_fresh_one_started(tmp_path, caplog):
    path = tmp_path / "events.sqlite3"
    path.write_bytes(b"\x00garbled by a power cut" * 100)
    queue = EventQueue(path, max_events=10)
    assert queue.append(payload) == 1
    queue.close()
    (aside,) = tmp_path.glob("events.sqlite3.corrupt-*")
    assert aside.read_bytes().startswith(b"\x00garbled")
    assert re.fullmatch(r"events\.sqlite3\.corrupt-\d{8}T\d{6}Z", aside.name)
    assert f"the event queue {path} was corrupt" in caplog.text and aside.name in caplog.text


def test_a_queue_with_a_damaged_page_is_set_aside_too(tmp_path, caplog):
    path = tmp_path / "events.sqlite3"
    queue = EventQueue(path, max_events=1000)
    for _ in range(200):
        queue.append(lambda seq: json.dumps({"seq": seq, "pad": "x" * 200}))
    queue.close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[4096 * 3 : 4096 * 3 + 512] = b"\xff" * 512  # one page of the table, garbled
    path.write_bytes(bytes(data))
    EventQueue(path, max_events=1000).close()
    assert list(tmp_path.glob("events.sqlite3.corrupt-*")), caplog.text


def test_a_full_queue_file_holds_events_in_memory_until_space_returns(tmp_path, caplog):
    path = tmp_path / "events.sqlite3"
    outbox = Outbox(path, max_events=10000, memory_events=5, retry_interval=0.0, max_pages=8)
    big = lambda seq: json.dumps({"seq": seq, "pad": "x" * 1500})  # noqa: E731
    seqs = [outbox.append(big) for _ in range(40)]
    assert seqs == list(range(1, 41))  # numbering never stops
    health = outbox.health()
    assert health.state == "memory" and "database or disk is full" in health.reason
    assert health.lost > 0  # only the newest 5 of those past the cap are held
    assert caplog.text.count("holding events in memory") == 1  # said once
    queued = outbox.after(0, 100)
    assert [e.seq for e in queued] == sorted(e.seq for e in queued) and queued[-1].seq == 40
    outbox.remove([e.seq for e in queued])  # delivered: the file has room again
    assert outbox.append(big) == 41
    outbox.retry_if_due()
    assert outbox.health().state == "disk" and "takes writes again" in caplog.text
    outbox.close()
    reopened = EventQueue(path, max_events=10000)
    assert [e.seq for e in reopened.after(0, 10)] == [41] and reopened.last_seq() == 41
    reopened.close()


# Power cuts: a writer process killed without closing the queue (closing checkpoints the
# WAL, which a power cut does not), then the queue opened again.
WRITER = """
import json, os, sys
from pathlib import Path
from maskwatch.publish.event_queue import EventQueue
queue = EventQueue(Path(sys.argv[1]), max_events=100000)
for n in range(int(sys.argv[2])):
    seq = queue.append(lambda seq: json.dumps({"seq": seq, "run": 1}))
    print(seq, flush=True)  # committed (synchronous=FULL) before it is said
if sys.argv[3] == "exit":
    os._exit(0)  # no close, no checkpoint: the commits stay in the WAL
"""


def killed_writer(path, events, how="exit"):
    """A child process that appends ``events`` events, then dies without closing the
    queue (``os._exit``), or appends forever until SIGKILLed once ``events`` are in.
    Returns the seqs it reported committed."""
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(path),
                              str(events if how == "exit" else 10**9), how],
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    committed = []
    for line in child.stdout:
        committed.append(int(line))
        if how == "kill" and len(committed) == events:
            child.send_signal(signal.SIGKILL)  # mid-run: between, or inside, a commit
            break
    child.wait(30)
    return committed


def stored(path):
    queue = EventQueue(path, max_events=100000)
    try:
        return {e.seq: json.loads(e.payload) for e in queue.after(0, 100000)}
    finally:
        queue.close()


def test_a_writer_killed_mid_run_loses_no_committed_event(tmp_path):
    path = tmp_path / "events.sqlite3"
    committed = killed_writer(path, 200, how="kill")
    assert path.with_name("events.sqlite3-wal").stat().st_size > 0  # not checkpointed
    events = stored(path)
    assert set(committed) <= events.keys()  # every event it reported committed is there
    assert sorted(events) == list(range(1, len(events) + 1))
    queue = EventQueue(path, max_events=100000)
    assert queue.append(payload) == max(events) + 1  # numbering goes on, nothing reused
    queue.close()


def test_after_a_power_cut_a_read_only_card_numbers_on_from_the_wal(tmp_path):
    """The card comes back read-only (fsck) after a power cut that left the last commits
    in the WAL: events are held in memory numbered after those, and once the card takes
    writes again they join them; none is overwritten."""
    with tmpfs(tmp_path / "card", "8m") as card:
        path = card / "events.sqlite3"
        assert killed_writer(path, 10) == list(range(1, 11))
        remount(card, "ro")
        outbox = Outbox(path, max_events=1000, memory_events=100)
        assert outbox.health().state == "memory"
        new = [outbox.append(lambda seq: json.dumps({"seq": seq, "run": 2})) for _ in range(3)]
        assert new == [11, 12, 13]
        remount(card, "rw")
        outbox.retry_if_due(force=True)
        assert outbox.health().as_json() == {"state": "disk", "reason": "", "lost": 0}
        outbox.close()
        events = stored(path)
    assert sorted(events) == list(range(1, 14))
    assert [events[s]["run"] for s in range(1, 14)] == [1] * 10 + [2] * 3
    assert all(events[s]["seq"] == s for s in events)


def test_events_numbered_from_a_stale_value_are_renumbered_not_written_over(tmp_path, caplog):
    """Even the WAL unreadable (a read-only card without its index, -shm): the held events
    are numbered from what the file alone says, and moved after the card's own."""
    with tmpfs(tmp_path / "card", "8m") as card:
        path = card / "events.sqlite3"
        killed_writer(path, 10)
        path.with_name("events.sqlite3-shm").unlink()
        remount(card, "ro")
        outbox = Outbox(path, max_events=1000, memory_events=100)
        new = [outbox.append(lambda seq: json.dumps({"seq": seq, "run": 2})) for _ in range(3)]
        remount(card, "rw")
        outbox.retry_if_due(force=True)
        assert outbox.health().state == "disk"
        assert outbox.append(lambda seq: json.dumps({"seq": seq, "run": 2})) == 14
        outbox.close()
        events = stored(path)
    assert new[0] <= 10  # numbered from a stale value ...
    assert "renumbered after it" in caplog.text
    assert sorted(events) == list(range(1, 15))  # ... but nothing written over
    assert [events[s]["run"] for s in range(1, 15)] == [1] * 10 + [2] * 4
    assert all(events[s]["seq"] == s for s in events)
