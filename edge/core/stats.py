"""What the daemon measures about itself, published on the ``stats`` topic."""

import resource
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

STAGES = ("read", "decode", "motion", "detect", "crop", "classify", "track", "publish")
WINDOW = 512  # recent samples per stage the percentiles are taken over
THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")


class StageTimes:
    """Per-stage latency over the most recent frames, in milliseconds."""

    def __init__(self, window: int = WINDOW) -> None:
        self._samples = {stage: deque(maxlen=window) for stage in STAGES}

    @contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self._samples[stage].append((time.perf_counter() - started) * 1000.0)

    def record(self, stage: str, milliseconds: float) -> None:
        """A duration measured elsewhere (the frame source times its own reads)."""
        self._samples[stage].append(milliseconds)

    def last(self, stage: str) -> float:
        return self._samples[stage][-1]

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for stage, samples in self._samples.items():
            if samples:
                p50, p95 = np.percentile(np.fromiter(samples, float), (50, 95))
                out[stage] = {"p50": round(float(p50), 2), "p95": round(float(p95), 2)}
        return out


def cpu_temperature(zone: Path = THERMAL_ZONE) -> float | None:
    """The SoC temperature in °C where the kernel exposes it (a Pi does), else None."""
    try:
        return round(int(zone.read_text().strip()) / 1000.0, 1)
    except (OSError, ValueError):
        return None


def _status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        pass
    return None


def resident_mb() -> float:
    """The process's resident memory now (``/proc``), else its peak (``getrusage``)."""
    now = _status_mb("VmRSS")
    return now if now is not None else peak_resident_mb()


def peak_resident_mb() -> float:
    """The most resident memory this program has had (``VmHWM``: from its exec, unlike
    ``ru_maxrss``, which also counts the parent's pages between fork and exec)."""
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


class FrameRate:
    """Frames per second since the last call to :meth:`take`."""

    def __init__(self) -> None:
        self.frames = 0
        self._count = 0
        self._since = time.monotonic()

    def tick(self) -> None:
        self.frames += 1
        self._count += 1

    def take(self) -> float:
        now = time.monotonic()
        fps = self._count / max(now - self._since, 1e-9)
        self._count, self._since = 0, now
        return round(fps, 2)


class CpuRate:
    """CPU seconds this process used per hour of wall-clock time since the last :meth:`take`
    (3600 is one core busy all the time)."""

    def __init__(
        self,
        cpu: Callable[[], float] = time.process_time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cpu, self._clock = cpu, clock
        self._since = (cpu(), clock())

    def take(self) -> float:
        cpu, now = self._cpu(), self._clock()
        used, elapsed = cpu - self._since[0], now - self._since[1]
        self._since = (cpu, now)
        return round(used / max(elapsed, 1e-9) * 3600.0, 1)


def detection_status(figures: dict[str, float]) -> str:
    """The detection figures of a stats message for the systemd status line ('' before the
    first)."""
    if not figures:
        return ""
    return (
        f", motion {figures['motion_share']:.0%}, "
        f"{figures['detector_runs_per_frame']:.2f} detector runs/frame, "
        f"{figures['cpu_s_per_hour']:.0f} CPU s/h"
    )
