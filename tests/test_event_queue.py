"""The durable event queue on a real SQLite file."""

import json
import re
import sqlite3

import pytest

from maskwatch.core.errors import ConfigError
from maskwatch.publish.event_queue import EventQueue
from maskwatch.publish.outbox import Outbox


def payload(seq):
    return json.dumps({"seq": seq})


def test_events_are_numbered_and_kept_across_a_restart(tmp_path):
    path = tmp_path / "events.sqlite3"
    queue = EventQueue(path, max_events=100)
    assert [queue.append(payload) for _ in range(3)] == [1, 2, 3]
    queue.remove([2])
    queue.close()

    reopened = EventQueue(path, max_events=100)  # as after a crash or a power cut
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
