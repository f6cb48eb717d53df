"""Per frame: where the face detector runs (nowhere, some regions, or the whole frame).

With motion gating on, the detector runs on regions around what moves and around the
faces being tracked; nowhere when nothing moves and nobody is tracked; on the whole frame
every ``heartbeat`` seconds while nobody is tracked (a person standing still since before
the background was learnt is still seen; a heartbeat while a face is followed in its
region would interrupt that, and a small face the shrunk frame cannot see would be
lost), right after the background was reset by a global change, and when regions would
cost as much as the whole frame. With motion off, every frame is a
full-frame pass, as before motion gating existed.
"""

from dataclasses import dataclass

import numpy as np

from maskwatch.core.config import MotionConfig
from maskwatch.core.preprocess import Box
from maskwatch.vision.motion import MotionDetector
from maskwatch.vision.regions import Region, plan_regions


@dataclass(frozen=True)
class Plan:
    regions: list[Region] | None  # None: the whole frame; []: no detection this frame
    motion: bool  # something moved (outside the ignore masks)

    @property
    def detector_runs(self) -> int:
        return 1 if self.regions is None else len(self.regions)


class PlanStats:
    """Counts over the frames since the last :meth:`take`, for the stats topic."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.frames = self.motion_frames = self.runs = self.regions = 0

    def add(self, plan: Plan) -> None:
        self.frames += 1
        self.motion_frames += plan.motion
        self.runs += plan.detector_runs
        self.regions += len(plan.regions or ())

    def take(self) -> dict[str, float]:
        frames = max(self.frames, 1)
        summary = {
            "motion_share": round(self.motion_frames / frames, 3),
            "detector_runs_per_frame": round(self.runs / frames, 3),
            "regions_per_frame": round(self.regions / frames, 3),
        }
        self._reset()
        return summary


class DetectionPlanner:
    def __init__(self, config: MotionConfig, full_frame_side: int) -> None:
        """``full_frame_side``: the longest side a full-frame pass shrinks frames to (0: not
        shrunk), against which regions' cost is weighed."""
        self.config = config
        self.full_frame_side = full_frame_side
        self.motion = MotionDetector(config)
        self.stats = PlanStats()
        self._last_full = float("-inf")

    def plan(self, frame_bgr: np.ndarray, tracked_faces: list[Box], now: float) -> Plan:
        """Where to detect in this frame, taken at ``now`` (monotonic seconds: the frame's
        own time, so a recording played at any speed gets the same heartbeats)."""
        plan = self._plan(frame_bgr, tracked_faces, now)
        if plan.regions is None:
            self._last_full = now
        self.stats.add(plan)
        return plan

    def _plan(self, frame_bgr: np.ndarray, tracked_faces: list[Box], now: float) -> Plan:
        if not self.config.enabled:
            return Plan(None, motion=False)
        motion = self.motion.detect(frame_bgr)
        moving = bool(motion.boxes)
        heartbeat = self.config.heartbeat
        due = heartbeat and now - self._last_full >= heartbeat
        if motion.reset or (due and not tracked_faces):  # a tracked face: its region first
            return Plan(None, moving)
        height, width = frame_bgr.shape[:2]
        regions = plan_regions(motion.boxes, tracked_faces, (width, height),
                               self.config.region_size, self.full_frame_side)  # fmt: skip
        return Plan(regions, moving)
