"""Configured filters on a real scene: region of interest, minimum face size, thresholds."""

import pytest

from maskwatch.core.bundle import load_bundle
from maskwatch.core.config import load_config
from maskwatch.core.errors import ConfigError
from maskwatch.core.images import read_image
from maskwatch.vision.pipeline import FaceFilter, MaskPipeline

SCENE = "maksssksksss0.jpg"  # several faces across the frame


@pytest.fixture(scope="module")
def scene(data_root):
    return read_image(data_root / "scenes-voc" / "images" / SCENE)


@pytest.fixture(scope="module")
def bundle(bundle_dir):
    return load_bundle(bundle_dir)


def centres_x(faces, width):
    return [(f.box[0] + f.box[2]) / 2 / width for f in faces]


def test_the_region_of_interest_keeps_faces_centred_inside_it(bundle, scene):
    width = scene.shape[1]
    everyone = MaskPipeline(bundle).process(scene)
    assert min(centres_x(everyone, width)) < 0.5 < max(centres_x(everyone, width))
    left = MaskPipeline(bundle, face_filter=FaceFilter(roi=(0.0, 0.0, 0.5, 1.0))).process(scene)
    assert 0 < len(left) < len(everyone)
    assert all(x <= 0.5 for x in centres_x(left, width))


def test_min_face_and_detector_score_drop_small_and_unsure_faces(bundle, scene):
    everyone = MaskPipeline(bundle).process(scene)
    widths = sorted(f.box[2] - f.box[0] for f in everyone)
    large = MaskPipeline(bundle, face_filter=FaceFilter(min_face=widths[-1])).process(scene)
    assert [f.box[2] - f.box[0] for f in large] == [widths[-1]]
    scores = sorted(f.detection_score for f in everyone)
    strict = MaskPipeline(bundle, detector_score=(scores[0] + scores[-1]) / 2).process(scene)
    assert 0 < len(strict) < len(everyone)
    assert all(f.detection_score >= (scores[0] + scores[-1]) / 2 for f in strict)


def test_the_pipeline_is_built_from_the_config(bundle, scene):
    config = load_config(None, ["pipeline.roi=[0.0, 0.0, 0.5, 1.0]", "pipeline.min_face=1"], {})
    pipeline = MaskPipeline.from_config(bundle, config.pipeline)
    assert pipeline.face_filter == FaceFilter(1, (0.0, 0.0, 0.5, 1.0))
    with pytest.raises(ConfigError, match="pipeline.detector_score: expected 0..1, found 2.0"):
        load_config(None, ["pipeline.detector_score=2.0"], {})
