"""The event queue as the daemon uses it: on the card while the card takes writes, in
memory while it does not.

A full SD card, a read-only remount or a failing card must not stop the daemon. When a
write to :class:`~maskwatch.publish.event_queue.EventQueue` fails (or it cannot be opened at all),
events are held in a bounded in-memory queue instead and still go to the broker when it
is there; every ``retry_interval`` seconds the card is tried again, and once it takes
writes the events held in memory move back to it. Each change of state is logged once
(a warning), and what could not be kept is counted in ``lost``.
"""

import contextlib
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from maskwatch.core.config import QueueConfig
from maskwatch.publish.event_queue import (
    EventQueue,
    InView,
    QueuedEvent,
    QueueUnavailable,
    peek_last_seq,
)

log = logging.getLogger(__name__)

WRITE_ERRORS = (sqlite3.Error, OSError)
PAGE_BYTES = 4096  # SQLite's default page size


def max_pages(config: QueueConfig) -> int:
    """``queue.max_mb`` in SQLite pages (0: no limit)."""
    return int(config.max_mb * 1024 * 1024 // PAGE_BYTES) if config.max_mb else 0


@dataclass(frozen=True)
class HeldEvent(QueuedEvent):
    """An event held in memory, with what builds its payload under another seq."""

    make_payload: Callable[[int], str]


@dataclass(frozen=True)
class QueueHealth:
    """``disk`` while events are kept on the card, else ``memory`` and why."""

    state: str
    reason: str
    lost: int

    def as_json(self) -> dict:
        return {"state": self.state, "reason": self.reason, "lost": self.lost}


class Outbox:
    """Thread-safe, like the queue: the frame loop appends, the MQTT sender acknowledges."""

    def __init__(
        self,
        path: Path,
        max_events: int,
        memory_events: int,
        retry_interval: float = 30.0,
        max_pages: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._open_disk = lambda: EventQueue(path, max_events, max_pages)
        self._memory: deque[HeldEvent] = deque()
        self._memory_events = memory_events
        self._retry_interval = retry_interval
        self._clock = clock
        self._lock = threading.RLock()
        self._acknowledged: set[int] = set()  # delivered, not yet deleted from the card
        self._disk: EventQueue | None = None
        self._problem = ""  # why events are held in memory; empty while on the card
        self._last_try = clock()
        self._last_seq = 0
        self.lost = 0  # events never kept on the card and dropped: memory full, or at exit
        self.changed = threading.Event()  # set at every change of health
        try:
            self._disk = self._open_disk()
            self._last_seq = self._disk.last_seq()
        except QueueUnavailable as error:
            self._last_seq = peek_last_seq(path)
            self._degrade(str(error))

    @classmethod
    def from_config(cls, config: QueueConfig) -> "Outbox":
        return cls(config.file, config.max_events, config.memory_events,
                   config.retry_interval, max_pages(config))  # fmt: skip

    # health ----------------------------------------------------------------------------

    def _degrade(self, reason: str) -> None:
        if not self._problem:
            log.warning("%s: holding events in memory (at most %d) and retrying every %.0f s",
                        reason, self._memory_events, self._retry_interval)  # fmt: skip
            self.changed.set()
        self._problem = reason
        self._last_try = self._clock()

    def _write_failed(self, error: Exception) -> None:
        self._degrade(f"queue {self.path}: cannot write it ({error})")

    def health(self) -> QueueHealth:
        with self._lock:
            state = "memory" if self._problem else "disk"
            return QueueHealth(state, self._problem, self.lost)

    def retry_if_due(self, force: bool = False) -> None:
        """Back to the card when it takes writes again: the held events go there first."""
        with self._lock:
            due = force or self._clock() - self._last_try >= self._retry_interval
            if self._problem and due:
                self._retry()

    def _retry(self) -> None:
        self._last_try = self._clock()
        try:
            if self._disk is None:
                self._disk = self._open_disk()
                self._renumber_after(self._disk.last_seq())
            if not self._memory:
                self._disk.probe()  # an event-sized write, as nothing else would test it
            self._disk.put(list(self._memory), self._last_seq)  # numbering goes on from here
            if self._acknowledged:
                self._disk.remove(sorted(self._acknowledged))
        except (QueueUnavailable, *WRITE_ERRORS):
            return  # still failing: said once already
        log.warning("queue %s takes writes again: %d events held in memory moved there",
                    self.path, len(self._memory))  # fmt: skip
        self._memory.clear()
        self._acknowledged.clear()
        self._problem = ""
        self.changed.set()

    def _renumber_after(self, last_seq: int) -> None:
        """Events numbered in memory from a stale last seq (the card's could not be read)
        follow the card's instead: the same seq never names two events."""
        if self._memory and self._memory[0].seq <= last_seq:
            log.warning("events %d.. held in memory were numbered before the card's last "
                        "event %d: renumbered after it", self._memory[0].seq, last_seq)  # fmt: skip
            self._memory = deque(
                HeldEvent(seq, e.make_payload(seq), e.make_payload)
                for seq, e in enumerate(self._memory, last_seq + 1)
            )
        newest_held = self._memory[-1].seq if self._memory else 0
        self._last_seq = max(self._last_seq, last_seq, newest_held)

    # the queue -------------------------------------------------------------------------

    def append(self, make_payload: Callable[[int], str], in_view: InView | None = None) -> int:
        """Numbered on the card, else in memory (where who is in view is not kept: a
        crash meanwhile leaves those people without their ``end``)."""
        with self._lock:
            self.retry_if_due()
            if not self._problem:
                try:
                    self._last_seq = self._disk.append(make_payload, in_view)
                    return self._last_seq
                except WRITE_ERRORS as error:
                    self._write_failed(error)
            self._last_seq += 1
            seq = self._last_seq
            self._memory.append(HeldEvent(seq, make_payload(seq), make_payload))
            if len(self._memory) > self._memory_events:
                self._memory.popleft()
                self.lost += 1
            return self._last_seq

    def after(self, seq: int, limit: int) -> list[QueuedEvent]:
        with self._lock:
            on_disk: list[QueuedEvent] = []
            if self._disk is not None:
                try:
                    on_disk = self._disk.after(seq, limit + len(self._acknowledged))
                except WRITE_ERRORS as error:
                    self._write_failed(error)
            held = [e for e in self._memory if e.seq > seq]
            on_disk = [e for e in on_disk if e.seq not in self._acknowledged]
        return sorted(on_disk + held, key=_seq)[:limit]

    def remove(self, seqs: list[int]) -> None:
        with self._lock:
            gone = set(seqs)
            self._memory = deque(e for e in self._memory if e.seq not in gone)
            if self._disk is None:
                return
            try:
                self._disk.remove(seqs)
            except WRITE_ERRORS as error:
                self._acknowledged |= gone  # deleted once the card takes writes again
                self._write_failed(error)

    def depth(self) -> int:
        with self._lock:
            on_disk = 0
            if self._disk is not None:
                with contextlib.suppress(*WRITE_ERRORS):
                    on_disk = self._disk.depth() - len(self._acknowledged)
            return on_disk + len(self._memory)

    def overflowed(self) -> int:
        """Events the card's queue dropped because it was full, over its whole life."""
        with self._lock, contextlib.suppress(*WRITE_ERRORS):
            return self._disk.overflowed() if self._disk is not None else 0
        return 0

    def left_in_view(self) -> list[dict]:
        with self._lock:
            try:
                return self._disk.left_in_view() if self._disk is not None else []
            except WRITE_ERRORS:
                return []

    def close(self) -> None:
        """One last try to keep what is held in memory; what cannot be kept is lost."""
        with self._lock:
            self.retry_if_due(force=True)
            if self._memory:
                self.lost += len(self._memory)
                log.warning("%d events held in memory are lost: %s", len(self._memory),
                            self._problem)  # fmt: skip
                self._memory.clear()
            if self._disk is not None:
                self._disk.close()


def _seq(event: QueuedEvent) -> int:
    return event.seq
