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

A queue file that is not a database (SD cards garble files after power cuts) is set
aside as ``events.sqlite3.corrupt-<UTC time>`` and a fresh one started. A queue that
cannot be written (a full card, a read-only remount, I/O errors) raises
:class:`QueueUnavailable`; :class:`~maskwatch.publish.outbox.Outbox` then keeps the daemon
running on memory. Only a path the configuration got wrong is a :class:`ConfigError`.
"""

import contextlib
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from maskwatch.core.errors import ConfigError, MaskwatchError

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS in_view (track TEXT PRIMARY KEY, event TEXT NOT NULL);
INSERT OR IGNORE INTO counters VALUES ('last_seq', 0), ('overflowed', 0);
"""


CORRUPT = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
InView = tuple[str, dict | None]  # a person's key, and their last event (None: ended)


class QueueUnavailable(MaskwatchError):
    """The queue file cannot be opened or written now: the card, not the configuration."""


def set_aside(path: Path) -> Path:
    """Rename a corrupt queue (and its WAL files) to ``<name>.corrupt-<UTC time>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("-wal", "-shm", ""):  # the database itself last
        part = path.with_name(path.name + suffix)
        if part.exists():
            part.rename(aside.with_name(aside.name + suffix))
    return aside


def peek_last_seq(path: Path) -> int:
    """The last seq of a queue that cannot be opened for writing: numbering goes on from
    there, not from 1. Read through the WAL, where a power cut leaves the last commits;
    failing that (a read-only card without the WAL's index), from the file alone; 0 when
    even that fails. A stale value is caught when the card takes writes again (Outbox)."""
    for options in ("mode=ro", "mode=ro&immutable=1"):
        try:
            with contextlib.closing(sqlite3.connect(f"file:{path}?{options}", uri=True)) as db:
                row = db.execute("SELECT value FROM counters WHERE name = 'last_seq'").fetchone()
            return row[0] if row else 0
        except sqlite3.Error:
            continue
    return 0


def read_only(folder: Path) -> bool:
    return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)


@dataclass(frozen=True)
class QueuedEvent:
    seq: int
    payload: str


class EventQueue:
    """Thread-safe: the frame loop appends, the MQTT sender thread acknowledges."""

    def __init__(self, path: Path, max_events: int, max_pages: int = 0) -> None:
        """``max_pages`` caps the file (0: the card's size); beyond it writes fail as on
        a full card."""
        self.path = path
        self.max_events = max_events
        self._lock = threading.Lock()
        self._check_folder()
        try:
            self._db = self._open(max_pages)
        except sqlite3.DatabaseError as error:
            if getattr(error, "sqlite_errorname", None) not in CORRUPT:
                raise QueueUnavailable(f"queue {path}: cannot open it ({error})") from None
            self._db = self._replace_corrupt(str(error), max_pages)

    def _check_folder(self) -> None:
        """A folder the configuration got wrong is a config error; a read-only one is not."""
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            if error.errno == 30:  # EROFS: the card was remounted read-only
                raise QueueUnavailable(f"queue {self.path}: read-only file system") from None
            raise ConfigError(
                f"queue.path {self.path}: cannot make its folder ({error.strerror}); point "
                "queue.path at a writable file (systemd's StateDirectory)"
            ) from None
        if not os.access(folder, os.W_OK) and not read_only(folder):
            raise ConfigError(
                f"queue.path {self.path}: its folder is not writable for this user; point "
                "queue.path at a writable file (systemd's StateDirectory)"
            )

    def _open(self, max_pages: int) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            if max_pages:
                db.execute(f"PRAGMA max_page_count={int(max_pages)}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                error = sqlite3.DatabaseError(f"integrity check: {check}")
                error.sqlite_errorname = "SQLITE_CORRUPT"
                raise error
            db.executescript(SCHEMA)
        except sqlite3.Error:
            db.close()
            raise
        return db

    def _replace_corrupt(self, reason: str, max_pages: int) -> sqlite3.Connection:
        try:
            aside = set_aside(self.path)
            db = self._open(max_pages)
        except (OSError, sqlite3.Error) as error:
            raise QueueUnavailable(
                f"queue {self.path}: corrupt ({reason}) and cannot be replaced ({error})"
            ) from None
        log.warning(
            "the event queue %s was corrupt (%s): kept aside as %s, started a fresh one; "
            "the events in it are not sent",
            self.path, reason, aside.name,
        )  # fmt: skip
        return db

    def _counter(self, name: str) -> int:
        return self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0]

    def append(self, make_payload: Callable[[int], str], in_view: InView | None = None) -> int:
        """Store one event; ``make_payload(seq)`` builds it with its sequence number.
        ``in_view`` updates who is in view in the same transaction (one sync, not two)."""
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            seq = self._counter("last_seq") + 1
            self._db.execute("UPDATE counters SET value = ? WHERE name = 'last_seq'", (seq,))
            self._db.execute("INSERT INTO events VALUES (?, ?)", (seq, make_payload(seq)))
            if in_view is not None:
                self._note_in_view(*in_view)
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

    def put(self, events: list[QueuedEvent], last_seq: int) -> None:
        """Store events numbered elsewhere (held in memory while the card was full), and
        go on numbering after ``last_seq``. Never over a queued event: a seq already
        taken raises ``sqlite3.IntegrityError`` and nothing is stored."""
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT INTO events VALUES (?, ?)", [(e.seq, e.payload) for e in events]
            )
            self._db.execute(
                "UPDATE counters SET value = max(value, ?) WHERE name = 'last_seq'", (last_seq,)
            )

    def last_seq(self) -> int:
        with self._lock:
            return self._counter("last_seq")

    def probe(self) -> None:
        """Write and delete an event-sized row: raises where an event could not be stored."""
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("CREATE TABLE IF NOT EXISTS probe (data TEXT)")
            self._db.execute("INSERT INTO probe VALUES (?)", ("x" * 1024,))
        with self._lock, self._db:
            self._db.execute("DELETE FROM probe")

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

    def _note_in_view(self, track: str, event: dict | None) -> None:
        """Remember the last event of a person in view; None forgets them (they ended)."""
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
