"""Classify a person's face when it can tell something new, not on every frame.

The classifier's budget on a Pi is per person, not per face per frame: a face is
classified on each of its person's first ``classify_first`` frames (their ``new`` event
is voted on fresh labels), then on every ``classify_every``-th frame, whenever its box
has moved or changed size so much that it overlaps the last classified box less than
``reclassify_iou`` (the person turned, came closer, or the track jumped), and on every
frame while the person has no label sure enough to vote (``min_label_score``) or their
recent labels disagree (an unsure face, a mask being put on, or someone new linked to
the track of a person who just stood there). Between those, the face carries its track's
latest label and score over, and does not vote (:mod:`maskwatch.tracking.tracker`). A classifier
several times heavier then costs about what a light one classifying every face on every
frame did.
"""

from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from maskwatch.core.clock import Moment
from maskwatch.core.config import TrackingConfig
from maskwatch.core.matching import iou_matrix
from maskwatch.core.preprocess import Box
from maskwatch.core.stats import StageTimes
from maskwatch.tracking.appearance import describe
from maskwatch.tracking.tracker import Track, Tracker
from maskwatch.vision.pipeline import Face, MaskPipeline
from maskwatch.vision.regions import Region


@dataclass(frozen=True)
class ClassificationSchedule:
    first: int = 3
    every: int = 5  # 1: every frame
    moved_iou: float = 0.5

    @classmethod
    def from_config(cls, config: TrackingConfig) -> "ClassificationSchedule":
        return cls(config.classify_first, config.classify_every, config.reclassify_iou)

    def due(self, track: Track | None, box: Box) -> bool:
        """Whether a face at ``box``, linked to ``track`` (None: someone new), is classified."""
        if track is None or track.classified_box is None or self.every <= 1:
            return True
        if track.classified_frames < self.first or track.since_classified + 1 >= self.every:
            return True
        if len(set(track.votes)) != 1:  # no sure label yet, or the recent ones disagree
            return True
        return float(iou_matrix([box], [track.classified_box])[0, 0]) < self.moved_iou


class FaceLabeller:
    """One frame: detect, link the faces to the tracks, classify those the schedule says
    are due, and carry the tracks' labels over to the rest."""

    def __init__(self, pipeline: MaskPipeline, tracker: Tracker, schedule: ClassificationSchedule):
        self.pipeline = pipeline
        self.tracker = tracker
        self.schedule = schedule
        self.classified = self.carried = 0  # faces, since the start

    def label(
        self,
        frame_bgr: np.ndarray,
        at: Moment,
        regions: list[Region] | None = None,
        times: StageTimes | None = None,
    ) -> tuple[list[Face], list[Track | None], list[np.ndarray | None]]:
        """The frame's faces, the track each belongs to and each one's clothes descriptor
        (for :meth:`Tracker.update`)."""
        detections = self.pipeline.detect_faces(frame_bgr, regions, times)
        looks = [describe(frame_bgr, d.box) for d in detections]
        tracks = self.tracker.associate([d.box for d in detections], at, looks)
        due = [self.schedule.due(t, d.box) for d, t in zip(detections, tracks, strict=True)]
        fresh = iter(self.pipeline.classify(
            frame_bgr, [d for d, is_due in zip(detections, due, strict=True) if is_due], times
        ))  # fmt: skip
        faces = []
        for detection, track, is_due in zip(detections, tracks, due, strict=True):
            if is_due:
                faces.append(next(fresh))
            else:
                last = track.face
                faces.append(Face(detection.box, last.label, last.score, detection.score, False))
        self.classified += sum(due)
        self.carried += len(due) - sum(due)
        return faces, tracks, looks

    def step(
        self,
        frame_bgr: np.ndarray,
        at: Moment,
        regions: list[Region] | None = None,
        times: StageTimes | None = None,
    ) -> tuple[list[Face], list]:
        """:meth:`label`, then the tracker's update: the frame's faces and events."""
        faces, tracks, looks = self.label(frame_bgr, at, regions, times)
        with times.measure("track") if times else nullcontext():
            return faces, self.tracker.update(faces, at, tracks, looks)
