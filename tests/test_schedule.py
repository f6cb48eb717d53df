"""The classification schedule on real photos through the real bundle: a person's face
is classified on their first frames, then every few frames or when it moves, and the
frames between carry the label over without a classifier call."""

import numpy as np
import pytest

from maskwatch.core.bundle import load_bundle
from maskwatch.core.clock import Moment
from maskwatch.core.config import TrackingConfig
from maskwatch.core.images import read_image
from maskwatch.tracking.schedule import ClassificationSchedule, FaceLabeller
from maskwatch.tracking.tracker import Tracker
from maskwatch.vision.pipeline import Face, MaskPipeline

FPS = 15


@pytest.fixture(scope="module")
def pipeline(bundle_dir):
    return MaskPipeline(load_bundle(bundle_dir), detector_max_side=0)


@pytest.fixture(scope="module")
def photo(clear_faces):
    """A held-out photo with a large masked face in it."""
    return read_image(clear_faces["mask"][0].image)


def view(photo: np.ndarray, x: int) -> np.ndarray:
    """The photo on a 1280x720 grey wall, ``x`` pixels from the left."""
    canvas = np.full((720, 1280, 3), 128, np.uint8)
    height, width = min(photo.shape[0], 720), min(photo.shape[1], 1280 - x)
    canvas[:height, x : x + width] = photo[:height, :width]
    return canvas


def labeller(pipeline, every=5, first=3, max_shift=1.0):
    config = TrackingConfig(confirm_frames=3, classify_first=first, classify_every=every,
                            max_shift=max_shift)  # fmt: skip
    return FaceLabeller(pipeline, Tracker(config), ClassificationSchedule.from_config(config))


def play(labeller, frames):
    """Each frame's faces and events, at 15 frames a second."""
    out = []
    for k, frame in enumerate(frames):
        now = k / FPS
        out.append(labeller.step(frame, Moment(now, now)))
    return out


def test_a_still_person_is_classified_on_their_first_frames_then_every_fifth(pipeline, photo):
    frames = [view(photo, 0)] * 14
    scheduled = labeller(pipeline)
    results = play(scheduled, frames)
    classified = [k for k, (faces, _) in enumerate(results) for f in faces if f.classified]
    assert classified == [0, 1, 2, 7, 12]  # three to confirm, then every fifth frame
    assert scheduled.classified == 5 and scheduled.carried == 9
    news = [e for _, events in results for e in events if e.kind == "new"]
    assert len(news) == 1 and news[0].label == "mask"
    every_frame = labeller(pipeline, every=1)
    reference = play(every_frame, frames)
    assert every_frame.carried == 0 and every_frame.classified == 14
    # The carried labels are the labels a classifier call would have given.
    for (faces, _), (ref, _) in zip(results, reference, strict=True):
        assert [(f.box, f.label) for f in faces] == [(f.box, f.label) for f in ref]
        assert [f.score for f in faces] == pytest.approx([f.score for f in ref], abs=0.05)


def test_a_face_that_moves_is_classified_again_before_its_turn(pipeline, photo):
    width = photo.shape[1]
    moves = [0, 0, 0, 0, 0, min(400, 1280 - width), min(400, 1280 - width)]
    scheduled = labeller(pipeline, every=10, max_shift=10.0)  # the jump is one person
    results = play(scheduled, [view(photo, x) for x in moves])
    classified = [k for k, (faces, _) in enumerate(results) for f in faces if f.classified]
    assert classified == [0, 1, 2, 5]  # the jump: its box no longer overlaps the last one
    assert len(scheduled.tracker.tracks) == 1  # still the same person


def test_someone_new_where_a_person_just_stood_is_classified_until_the_vote_turns(
    pipeline, clear_faces
):
    """The track links the newcomer to the person before (same place, a moment later,
    their faces' boxes overlapping by more than reclassify_iou): the old label is carried
    until the next scheduled look (frame 12); that fresh label disagrees with the votes,
    so every frame is classified until 4 of 5 votes have turned, an ``update`` (frame 15)."""
    unmasked, masked = (read_image(clear_faces[k][0].image) for k in ("no_mask", "mask"))
    scheduled = labeller(pipeline)
    results = play(scheduled, [view(unmasked, 0)] * 8 + [view(masked, 0)] * 8)
    events = [(k, e.kind, e.label) for k, (_, evs) in enumerate(results) for e in evs]
    assert events == [(2, "new", "no_mask"), (15, "update", "mask")]  # 4 of 5 votes
    classified = [k for k, (faces, _) in enumerate(results) for f in faces if f.classified]
    assert classified == [0, 1, 2, 7, 12, 13, 14, 15]


def test_a_face_too_unsure_to_vote_is_classified_on_every_frame():
    """Below min_label_score a face does not vote; until one does, nothing is carried."""
    tracker = Tracker(TrackingConfig(confirm_frames=3), min_label_score=0.9)
    schedule = ClassificationSchedule(first=3, every=5)
    box = (100, 100, 160, 170)
    for k in range(8):
        at = Moment(k / FPS, k / FPS)
        (track,) = tracker.associate([box], at)
        assert schedule.due(track, box)
        tracker.update([Face(box, "no_mask", 0.6, 0.9)], at, [track])
    assert tracker.tracks[0].classified_frames == 8 and not tracker.tracks[0].votes


def test_schedule_config_is_checked():
    from maskwatch.core.config import load_config
    from maskwatch.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"tracking\.classify_every: expected at least 1"):
        load_config(None, ["tracking.classify_every=0"], {})
    with pytest.raises(ConfigError, match=r"tracking\.reclassify_iou: expected 0\.\.1"):
        load_config(None, ["tracking.reclassify_iou=1.5"], {})
