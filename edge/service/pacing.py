"""``source.max_fps``: at most that many frames a second go through the pipeline.

The daemon waits (without using the CPU) until the next frame is due before it takes
one; a live source keeps only its newest frame meanwhile, so the frames in between are
counted as dropped, and a recorded one (a video, a folder) is played at that rate.
"""

import time
from collections.abc import Callable


class FramePacer:
    def __init__(
        self,
        max_fps: float,
        wait: Callable[[float], object],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``max_fps`` 0 means no cap. ``wait(seconds)`` pauses (the daemon's stop event's
        ``wait``, so a stop is not held up); ``clock`` gives monotonic seconds."""
        self.interval = 1.0 / max_fps if max_fps else 0.0
        self._wait, self._clock = wait, clock
        self._due = float("-inf")

    def pace(self) -> None:
        """Return when the next frame may be taken."""
        if not self.interval:
            return
        now = self._clock()
        if now < self._due:
            self._wait(self._due - now)
            now = self._clock()
        self._due = now + self.interval
