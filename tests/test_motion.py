"""Motion gating on real frames: a real photo as the camera's view, the door-day sequence's
sensor noise, light drift, exposure step and swaying plant, the real bundle's YuNet."""

import time

import numpy as np
import pytest

from maskwatch.core.bundle import load_bundle
from maskwatch.core.clock import Moment
from maskwatch.core.config import MotionConfig, load_config
from maskwatch.core.errors import ConfigError
from maskwatch.core.images import read_image
from maskwatch.core.matching import iou_matrix
from maskwatch.core.stats import CpuRate, detection_status
from maskwatch.service.pacing import FramePacer
from maskwatch.tracking.tracker import Tracker, recent_faces
from maskwatch.vision.detection_plan import DetectionPlanner, Plan, PlanStats
from maskwatch.vision.motion import MotionDetector
from maskwatch.vision.pipeline import MaskPipeline
from maskwatch.vision.regions import Region, input_pixels, plan_regions
from tests.conftest import CONFIG
from workbench import door_scenes

WIDTH, HEIGHT = door_scenes.SIZE
PLANT = (door_scenes.PLANT_MASK,)
OFFSET = (700, 260)  # where the photo sits in the 1280x720 view


@pytest.fixture(scope="module")
def bundle(bundle_dir):
    return load_bundle(bundle_dir)


@pytest.fixture(scope="module")
def person(clear_faces):
    """A 1280x720 view with one held-out test photo in it, and its face's box in the view."""
    face = clear_faces["no_mask"][0]
    photo = read_image(face.image)
    view = np.full((HEIGHT, WIDTH, 3), 150, np.uint8)  # a light wall
    x, y = OFFSET
    view[y : y + photo.shape[0], x : x + photo.shape[1]] = photo[: HEIGHT - y, : WIDTH - x]
    x1, y1, x2, y2 = face.box
    return view, (x1 + x, y1 + y, x2 + x, y2 + y)


def sequence(view: np.ndarray, seconds: float, exposure_step: float | None = None):
    """The door day's camera (noise, drift, the plant) looking at ``view``, nobody walking."""
    return door_scenes.DoorSequence(view, [], (), seconds, exposure_step)


def motion_boxes(detector: MotionDetector, frames) -> list[list]:
    return [detector.detect(frame).boxes for frame in frames]


def test_an_ignore_mask_silences_the_swaying_plant(person):
    camera = sequence(person[0], 3.0)
    frames = [camera.render(k) for k in range(45)]
    unmasked = motion_boxes(MotionDetector(MotionConfig()), frames)
    plant_left = door_scenes.PLANT_MASK[0] * WIDTH
    assert sum(bool(boxes) for boxes in unmasked) > 30  # the plant moves in most frames
    assert all(box[2] > plant_left for boxes in unmasked for box in boxes)  # and only it
    masked = motion_boxes(MotionDetector(MotionConfig(mask=PLANT)), frames)
    assert not any(masked)
    planner = DetectionPlanner(MotionConfig(mask=PLANT), 320)
    plans = [planner.plan(frame, [], 0.0) for frame in frames]
    assert plans[0].regions is None  # the first frame: a full-frame pass
    assert all(plan.regions == [] for plan in plans[1:])  # then the detector rests


def test_a_global_change_resets_the_background_instead_of_reporting_motion(person):
    step_frame = 30  # the exposure steps up by 30 % at 2 s
    camera = sequence(person[0], 6.0, exposure_step=2.0)
    frames = [camera.render(k) for k in range(90)]
    detector = MotionDetector(MotionConfig(mask=PLANT))
    results = [detector.detect(frame) for frame in frames]
    assert [k for k, r in enumerate(results) if r.reset] == [0, step_frame]
    assert not any(r.boxes for r in results)
    # Without the reset the running average takes a second or more to catch up, and all
    # that time the whole picture is "motion" (the detector on the whole frame, or worse).
    no_reset = motion_boxes(MotionDetector(MotionConfig(mask=PLANT, global_change=1.0)), frames)
    assert not any(no_reset[:step_frame]) and all(no_reset[step_frame : step_frame + 15])
    planner = DetectionPlanner(MotionConfig(mask=PLANT), 320)
    plans = [planner.plan(frame, [], 0.0) for frame in frames]
    assert plans[step_frame].regions is None  # a full-frame look right after the change


def test_the_heartbeat_finds_a_person_standing_still(bundle, person):
    view, face_box = person
    frames = sequence(view, 8.0)
    pipeline = MaskPipeline(bundle, detector_max_side=640)
    config = load_config(CONFIG, [], {})
    tracker = Tracker(config.tracking)
    now = 0.0
    planner = DetectionPlanner(MotionConfig(mask=PLANT, heartbeat=5.0), 640)
    planner.plan(frames.render(0), [], now)  # the background is learnt with the person in it
    events, runs = [], []
    for k in range(1, frames.frames):
        now = k / door_scenes.FPS
        frame = frames.render(k)
        plan = planner.plan(frame, recent_faces(tracker.tracks, now), now)
        runs.append((k, plan.regions))
        faces = pipeline.process(frame, regions=plan.regions)
        events += [(k, e) for e in tracker.update(faces, Moment(now, now)) if e.kind == "new"]
    heartbeat = 5 * door_scenes.FPS
    assert all(regions == [] for k, regions in runs if k < heartbeat)  # still: nothing runs
    assert runs[heartbeat - 1] == (heartbeat, None)  # the heartbeat's full-frame pass
    assert all(regions for k, regions in runs if k > heartbeat)  # then the tracked face
    (frame, event), *others = events
    assert not others and frame == heartbeat + config.tracking.confirm_frames - 1
    assert iou_matrix([event.track.face.box], [face_box])[0, 0] >= 0.5  # the annotated face


def test_faces_found_in_regions_land_on_the_full_frame_detection(bundle, person):
    view, face_box = person
    native = MaskPipeline(bundle, detector_max_side=WIDTH)  # the whole frame, not shrunk
    (full,) = native.detect(view)
    x1, y1, x2, y2 = face_box
    face_region = Region((x1 - 100, y1 - 60, x1 + 220, y1 + 260))  # the face off-centre
    empty_region = Region((0, 0, 320, 320))
    found = native.detect(view, [empty_region, face_region])
    assert len(found) == 1
    # The same face, give or take the few pixels that the context around it moves YuNet's
    # box (a wrong offset would be off by the region's position: hundreds of pixels).
    tolerance = 0.06 * (full.box[2] - full.box[0])
    assert max(abs(a - b) for a, b in zip(found[0].box, full.box, strict=True)) <= tolerance
    assert abs(found[0].score - full.score) < 0.05
    centred = Region((x1 - 110, y1 - 100, x1 + 210, y1 + 220))
    halved = Region((x1 - 300, y1 - 300, x1 + 340, y1 + 286), 0.5)  # shrunk to half
    for region in (centred, halved):  # a face at half the pixels may move twice as far
        (again,) = native.detect(view, [region])
        off = max(abs(a - b) for a, b in zip(again.box, full.box, strict=True))
        assert off <= tolerance / region.scale
    faces = native.process(view, regions=[face_region])
    assert len(faces) == 1 and faces[0].box == found[0].box


def test_regions_merge_and_give_way_to_the_whole_frame_when_that_is_cheaper():
    size = (WIDTH, HEIGHT)
    far = plan_regions([(600, 280, 700, 400)], [], size, 320, 320)
    assert len(far) == 1 and far[0].scale == 1.0  # native: a far face keeps its detail
    left, top, right, bottom = far[0].box
    assert far[0].cost < input_pixels(*size, 320)
    assert left <= 600 and top <= 280 and right >= 700 and bottom >= 400
    overlapping = plan_regions([(600, 280, 700, 400)], [(690, 300, 720, 330)], size, 320, 0)
    assert len(overlapping) == 1  # one region: the face is detected once, whole
    assert plan_regions([(300, 100, 800, 720)], [], size, 320, 320) is None  # most of it
    # A near person moving and a far face tracked: the near one's region would cost more
    # than the whole frame at 320 px, so it is seen at that pass's scale (what today's
    # daemon sees), while the far face keeps its native detail.
    near, far_face = plan_regions([(400, 150, 800, 600)], [(1000, 300, 1028, 334)], size, 320, 320)
    assert near.scale == pytest.approx(320 / WIDTH) and far_face.scale == 1.0
    assert near.cost + far_face.cost < input_pixels(*size, 320)
    # A far walker: their motion and their tracked 40 px face merge into a region dearer
    # than the pass. At the pass's scale the face would be 10 px and lost, so the region
    # is shrunk no further than keeps it 32 px wide.
    (walker,) = plan_regions([(150, 240, 330, 420)], [(240, 293, 280, 340)], size, 320, 320)
    assert walker.scale == pytest.approx(32 / 40) and walker.cost < input_pixels(*size, 320)
    assert walker.box[0] <= 240 and walker.box[1] <= 293 and walker.box[2] >= 280
    assert plan_regions([(130, 228, 370, 420)], [(240, 293, 280, 340)], size, 320, 320) is None
    (still,) = plan_regions([], [(500, 200, 620, 340)], size, 320, 320)  # a near face, tracked
    assert still.scale == pytest.approx(64 / 120)  # shrunk to keep the face 64 px wide
    assert still.box[0] <= 500 and still.box[2] >= 620 and still.cost < input_pixels(*size, 320)
    assert plan_regions([], [], size, 320, 320) == []


def test_max_fps_paces_the_frames():
    now = [0.0]
    pacer = FramePacer(5.0, wait=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0])
    taken = []
    for _ in range(20):  # a 30 fps camera: a frame every 1/30 s
        pacer.pace()
        taken.append(now[0])
        now[0] += 1 / 30
    assert np.allclose(np.diff(taken), 0.2)
    started = time.monotonic()
    real = FramePacer(20.0, wait=time.sleep)
    for _ in range(6):
        real.pace()
    assert time.monotonic() - started >= 0.25 - 1e-3


def test_bad_motion_config_names_the_key():
    with pytest.raises(ConfigError, match=r"motion\.mask\[0\]: expected at least 3 x, y pairs"):
        load_config(None, ["motion.mask=[[0.1, 0.2, 0.3]]"], {})
    with pytest.raises(ConfigError, match=r"source\.max_fps: expected at least 0"):
        load_config(None, ["source.max_fps=-1"], {})
    config = load_config(None, ["motion.mask=[[0, 0, 0.5, 0, 0.5, 0.5]]"], {})
    assert config.motion.mask == ((0.0, 0.0, 0.5, 0.0, 0.5, 0.5),)


def test_detection_stats_count_per_frame_and_cpu_per_hour():
    stats = PlanStats()
    two = [Region((0, 0, 96, 96)), Region((200, 0, 296, 96))]
    for plan in (Plan(None, False), Plan([], False), Plan(two, True), Plan([], False)):
        stats.add(plan)
    figures = stats.take()
    assert figures == {"motion_share": 0.25, "detector_runs_per_frame": 0.75,
                       "regions_per_frame": 0.5}  # fmt: skip
    assert stats.take()["detector_runs_per_frame"] == 0.0  # a new window
    cpu, clock = [0.0], [0.0]
    rate = CpuRate(cpu=lambda: cpu[0], clock=lambda: clock[0])
    cpu[0], clock[0] = 15.0, 60.0  # a quarter of a core for a minute
    assert rate.take() == 900.0
    line = detection_status({**figures, "cpu_s_per_hour": 900.0})
    assert line == ", motion 25%, 0.75 detector runs/frame, 900 CPU s/h"
