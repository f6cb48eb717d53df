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
