"""A fleet device's retained ``health``: what the fleet view shows of it (docs/fleet.md).

People are counted when they leave (their ``end`` event carries the label the tracker
settled on), per hour of the wall clock, for the last day; ``masked`` counts those
labelled ``mask``, so the share masked is ``masked / people``.
"""

import threading
import time
from collections import OrderedDict

from maskwatch.core.stats import cpu_temperature
from maskwatch.tracking.events import iso_utc

HOURS_KEPT = 24


class EventTally:
    """Fed every event the daemon queues (any thread); read by the health reporter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hours: OrderedDict[str, dict[str, int]] = OrderedDict()
        self.last_event = ""

    def add(self, event: dict) -> None:
        with self._lock:
            self.last_event = event.get("last_seen", "") or self.last_event
            if event.get("type") != "end":
                return
            hour = iso_utc(time.time())[:13]  # 2026-12-02T18
            counts = self._hours.setdefault(hour, {"people": 0, "masked": 0})
            counts["people"] += 1
            counts["masked"] += event.get("label") == "mask"
            while len(self._hours) > HOURS_KEPT:
                self._hours.popitem(last=False)

    def hours(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {hour: dict(counts) for hour, counts in self._hours.items()}


class FrameRateSince:
    """Frames a second between two looks at a growing frame count (any thread)."""

    def __init__(self) -> None:
        self._frames, self._at = 0, time.monotonic()

    def take(self, frames: int) -> float:
        now = time.monotonic()
        fps = (frames - self._frames) / max(now - self._at, 1e-9)
        self._frames, self._at = frames, now
        return round(fps, 2)


def health_message(running: str, fps: float, queue_depth: int, tally: EventTally,
                   site: str, group: str, every: float) -> dict:  # fmt: skip
    """``every``: seconds to the next one (the fleet view calls a device silent for three
    times that stale, even while its availability still says online)."""
    hours = tally.hours()
    now = hours.get(iso_utc(time.time())[:13], {"people": 0, "masked": 0})
    share = round(100 * now["masked"] / now["people"]) if now["people"] else None
    return {
        "bundle": running,
        "fps": fps,
        "cpu_temp_c": cpu_temperature(),
        "queue_depth": queue_depth,
        "last_event": tally.last_event,
        "hours": hours,
        "people_this_hour": now["people"],
        "masked_percent_this_hour": share,
        "site": site,
        "group": group,
        "at": iso_utc(time.time()),
        "every_s": every,
    }
