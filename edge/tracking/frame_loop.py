"""One frame's walk, the same wherever frames come from: plan -> detect -> classify those
due -> track -> events.

The daemon, ``maskwatch replay``, ``maskwatch detect`` and the benchmarks all call this
one object, so what is measured and replayed is what runs on the Pi. Each frame comes
with its own :class:`~maskwatch.core.clock.Moment`: a camera's is the time it was read,
a recording's is its place in the recording (:class:`~maskwatch.core.clock.MediaClock`),
so a video played at any speed is tracked alike.
"""

from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from maskwatch.core.clock import Moment
from maskwatch.core.config import Config, MotionConfig, TrackingConfig
from maskwatch.core.stats import StageTimes
from maskwatch.tracking.schedule import ClassificationSchedule, FaceLabeller
from maskwatch.tracking.tracker import Tracker, TrackEvent, recent_faces
from maskwatch.vision.detection_plan import DetectionPlanner, Plan
from maskwatch.vision.pipeline import Face, MaskPipeline


@dataclass(frozen=True)
class FrameResult:
    faces: list[Face]
    events: list[TrackEvent]
    plan: Plan


class FrameLoop:
    def __init__(
        self,
        pipeline: MaskPipeline,
        motion: MotionConfig,
        tracking: TrackingConfig,
        min_label_score: float = 0.0,
    ) -> None:
        self.pipeline = pipeline
        self._settings = (motion, tracking, min_label_score)
        self.reset()

    @classmethod
    def from_config(cls, config: Config, pipeline: MaskPipeline) -> "FrameLoop":
        return cls(pipeline, config.motion, config.tracking, config.pipeline.min_label_score)

    @classmethod
    def for_photos(cls, pipeline: MaskPipeline) -> "FrameLoop":
        """For unrelated photos (``maskwatch detect``): the whole of each, nobody followed
        from one to the next (see :meth:`photo`)."""
        return cls(pipeline, MotionConfig(enabled=False), TrackingConfig())

    def reset(self) -> None:
        """Forget everybody and the background: the next frame starts a new recording."""
        motion, tracking, min_label_score = self._settings
        self.planner = DetectionPlanner(motion, self.pipeline.full_frame_side)
        self.tracker = Tracker(tracking, min_label_score)
        self.labeller = FaceLabeller(
            self.pipeline, self.tracker, ClassificationSchedule.from_config(tracking)
        )

    def photo(self, image: np.ndarray) -> list[Face]:
        """A photo on its own: every face found and classified, none carried over."""
        self.reset()
        return self.step(image, Moment(0.0, 0.0)).faces

    def step(self, image: np.ndarray, at: Moment, times: StageTimes | None = None) -> FrameResult:
        """One frame, taken at ``at``: its faces (with the labels they carry) and events."""
        with times.measure("motion") if times else nullcontext():
            tracked = recent_faces(self.tracker.tracks, at.monotonic)
            plan = self.planner.plan(image, tracked, at.monotonic)
        faces, events = self.labeller.step(image, at, plan.regions, times)
        return FrameResult(faces, events, plan)

    def idle(self, monotonic: float) -> list[TrackEvent]:
        """No frame: the people in view still age, and end on time."""
        return self.tracker.expire(monotonic)

    def finish(self) -> list[TrackEvent]:
        """The end of the frames: everybody still followed ends now."""
        return self.tracker.expire()
