"""The durable event queue: every event is written here before it is published.

A SQLite database in WAL mode with ``synchronous=FULL``, so a committed event survives
a crash or a power cut. An event leaves the queue only when the broker has acknowledged
it (QoS 1 PUBACK); whatever is still here at start-up is replayed, oldest first. The
queue also numbers the events: ``seq`` keeps rising across restarts.

The queue is bounded. When it is full the oldest event is dropped to make room (the
newest say who is in view now); every drop is counted, persisted, and reported in
``stats``, never silent.

It also remembers who is in view (the last event of each person not yet ended), so
that after a crash the next start can send their ``end``.
"""

import json
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.errors import ConfigError

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS in_view (track TEXT PRIMARY KEY, event TEXT NOT NULL);
INSERT OR IGNORE INTO counters VALUES ('last_seq', 0), ('overflowed', 0);
"""


@dataclass(frozen=True)
class QueuedEvent:
    seq: int
    payload: str


class EventQueue:
    """Thread-safe: the frame loop appends, the MQTT sender thread acknowledges."""

    def __init__(self, path: Path, max_events: int) -> None:
        self.path = path
        self.max_events = max_events
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise ConfigError(
                f"queue.path {path}: cannot open the event queue ({error}); point queue.path "
                "at a writable file (systemd's StateDirectory)"
            ) from None

    def _counter(self, name: str) -> int:
        return self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0]

    def append(self, make_payload: Callable[[int], str]) -> int:
        """Store one event; ``make_payload(seq)`` builds it with its sequence number."""
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            seq = self._counter("last_seq") + 1
            self._db.execute("UPDATE counters SET value = ? WHERE name = 'last_seq'", (seq,))
            self._db.execute("INSERT INTO events VALUES (?, ?)", (seq, make_payload(seq)))
            excess = self._depth() - self.max_events
            if excess > 0:
                self._db.execute(
                    "DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT ?)",
                    (excess,),
                )
                self._db.execute(
                    "UPDATE counters SET value = value + ? WHERE name = 'overflowed'", (excess,)
                )
                log.warning(
                    "event queue full (%d events): dropped the oldest %d", self.max_events, excess
                )
        return seq

    def after(self, seq: int, limit: int) -> list[QueuedEvent]:
        """Up to ``limit`` queued events newer than ``seq``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
            ).fetchall()
        return [QueuedEvent(*row) for row in rows]

    def remove(self, seqs: list[int]) -> None:
        """The broker has these events: forget them (one transaction, one sync)."""
        with self._lock, self._db:
            self._db.executemany("DELETE FROM events WHERE seq = ?", [(s,) for s in seqs])

    def in_view(self, track: str, event: dict | None) -> None:
        """Remember the last event of a person in view; None forgets them (they ended)."""
        with self._lock, self._db:
            if event is None:
                self._db.execute("DELETE FROM in_view WHERE track = ?", (track,))
            else:
                self._db.execute(
                    "INSERT OR REPLACE INTO in_view VALUES (?, ?)", (track, json.dumps(event))
                )

    def left_in_view(self) -> list[dict]:
        """The last events of people still in view when an earlier run stopped."""
        with self._lock:
            rows = self._db.execute("SELECT event FROM in_view ORDER BY rowid").fetchall()
        return [json.loads(row[0]) for row in rows]

    def _depth(self) -> int:
        return self._db.execute("SELECT count(*) FROM events").fetchone()[0]

    def depth(self) -> int:
        with self._lock:
            return self._depth()

    def overflowed(self) -> int:
        """Events dropped because the queue was full, over the queue's whole life."""
        with self._lock:
            return self._counter("overflowed")

    def close(self) -> None:
        with self._lock:
            self._db.close()
