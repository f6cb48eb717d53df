"""Two clocks: monotonic time for everything that measures time, wall time for the record.

A Raspberry Pi has no real-time clock: it boots with the time saved at its last shutdown,
and NTP later steps the clock, often by hours. Tracking (``end_after``), rates and
timeouts therefore run on the monotonic clock, which never steps; wall time appears only
in the timestamps events carry, and those say whether the clock was synchronised yet.
"""

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

# systemd-timesyncd creates this once it has synchronised the clock (chrony and ntpd
# users can set clock.trusted instead).
SYNCHRONIZED_FLAG = Path("/run/systemd/timesync/synchronized")


@dataclass(frozen=True)
class Moment:
    """One instant on both clocks."""

    monotonic: float  # seconds, for durations only
    wall: float  # seconds since the epoch, for timestamps only


class Clock(Protocol):
    def now(self) -> Moment: ...

    def synced(self) -> bool:
        """Whether wall time can be believed."""
        ...


class SystemClock:
    """The machine's clocks; wall time counts as synchronised when ``trusted`` or once
    systemd-timesyncd says so."""

    def __init__(self, trusted: bool = False, flag: Path = SYNCHRONIZED_FLAG) -> None:
        self._trusted = trusted
        self._flag = flag
        self._synced = trusted

    def now(self) -> Moment:
        return Moment(time.monotonic(), time.time())

    def synced(self) -> bool:
        if not self._synced:  # once synchronised, the flag only goes at the next boot
            self._synced = self._flag.exists()
        return self._synced


class MediaClock:
    """Moments on a recording's own clock: its first frame at ``start``, each later one at
    ``start`` plus that frame's place in the recording. A video played faster or slower
    than it was recorded (``replay``, a benchmark, a daemon pacing a file) is then tracked
    exactly alike. When a looping recording starts over, time goes on from where it was."""

    def __init__(self, start: Moment) -> None:
        self._start = start
        self._shift = 0.0  # seconds added after each loop
        self._last = 0.0
        self._step = 0.0

    def at(self, offset: float) -> Moment:
        """The moment of the frame ``offset`` seconds into the recording."""
        if offset < self._last:  # the recording started over
            self._shift += self._last + self._step - offset
        elif offset > self._last:
            self._step = offset - self._last
        self._last = offset
        elapsed = self._shift + offset
        return Moment(self._start.monotonic + elapsed, self._start.wall + elapsed)
