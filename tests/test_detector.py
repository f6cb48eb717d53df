"""YuNet through OpenCV on real scenes: boxes come back in the frame's own pixels."""

import dataclasses

import cv2
import pytest

from maskwatch.core.bundle import load_bundle
from maskwatch.core.matching import iou_matrix
from maskwatch.vision.detectors import create_detector


@pytest.fixture(scope="module")
def detector_info(bundle_dir):
    return load_bundle(bundle_dir).manifest.detector


def detect(info, bundle_dir, image, **changes):
    return create_detector(dataclasses.replace(info, **changes), bundle_dir).detect(image)


def test_downscaled_detection_maps_back_to_frame_pixels(data_root, bundle_dir, detector_info):
    image = cv2.imread(str(data_root / "scenes-voc" / "images" / "maksssksksss10.jpg"))
    full = detect(detector_info, bundle_dir, image, max_side=10_000)
    half = detect(detector_info, bundle_dir, image, max_side=max(image.shape[:2]) // 2)
    assert len(full) == len(half) == 1
    assert iou_matrix([full[0].box], [half[0].box])[0, 0] > 0.8


def test_upscaled_small_frames_map_back_too(data_root, bundle_dir, detector_info):
    image = cv2.imread(str(data_root / "scenes-voc" / "images" / "maksssksksss10.jpg"))
    small = cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    found = detect(detector_info, bundle_dir, small, min_side=max(image.shape[:2]))
    reference = detect(detector_info, bundle_dir, image, max_side=10_000)
    assert len(found) == 1
    halved = tuple(v // 2 for v in reference[0].box)
    assert iou_matrix([found[0].box], [halved])[0, 0] > 0.7
    height, width = small.shape[:2]
    x1, y1, x2, y2 = found[0].box
    assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height


def test_a_res10_bundle_runs_the_seeds_detector(bundle_dir, data_root, tmp_path):
    """res10 SSD (OpenCV 4.x Caffe) as a bundle's detector kind, files from its wheel."""
    from maskwatch.convert.bundle import build_bundle
    from maskwatch.vision.detectors import RES10_DETECTOR
    from maskwatch.vision.pipeline import MaskPipeline

    manifest = load_bundle(bundle_dir).manifest
    build_bundle(
        bundle_dir / manifest.classifier.file, manifest.preprocess, None, tmp_path / "res10",
        detector=RES10_DETECTOR,
    )  # fmt: skip
    bundle = load_bundle(tmp_path / "res10")
    assert bundle.manifest.detector.kind == "res10"
    assert set(bundle.manifest.files) >= {RES10_DETECTOR.file, RES10_DETECTOR.config_file}
    image = cv2.imread(str(data_root / "scenes-voc" / "images" / "maksssksksss10.jpg"))
    faces = MaskPipeline(bundle).process(image)
    assert len(faces) == 1 and faces[0].label == "mask"
