"""Face detectors as small plugins: each kind turns a BGR frame into face boxes.

Adding a detector means one new module with a class that has ``detect`` and an
entry in :data:`DETECTORS`, keyed by the manifest's ``detector.kind``.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from edge.bundle import DetectorInfo
from edge.errors import BundleError
from edge.preprocess import Box


@dataclass(frozen=True)
class Detection:
    box: Box  # pixels of the frame passed to detect()
    score: float
    # YuNet's five points (x, y) in the same pixels: right eye, left eye, nose tip, right
    # and left mouth corner (the subject's right and left); empty from other detectors.
    landmarks: tuple[tuple[float, float], ...] = ()


class FaceDetector(Protocol):
    def detect(self, frame_bgr: np.ndarray) -> list[Detection]: ...


def _yunet(info: DetectorInfo, folder: Path) -> FaceDetector:
    from edge.detectors.yunet import YuNetDetector

    return YuNetDetector(folder / info.file, info)


def _res10(info: DetectorInfo, folder: Path) -> FaceDetector:
    from edge.detectors.res10 import Res10Detector

    return Res10Detector(folder / info.file, folder / info.config_file, info)


DETECTORS: dict[str, Callable[[DetectorInfo, Path], FaceDetector]] = {
    "yunet": _yunet,
    "res10": _res10,
}

# YuNet as OpenCV ships it, and the same graph fine-tuned on masked faces
# (train/detector_train.py, docs/detector.md). Either is one bundle option away.
YUNET_FILE = "face_detection_yunet_2026may.onnx"
YUNET_MASKS_FILE = "face_detection_yunet_masks.onnx"
ORIGINAL_YUNET = DetectorInfo(
    kind="yunet", file=YUNET_FILE, score_threshold=0.6, nms_threshold=0.3, max_side=640
)
MASKS_YUNET = replace(ORIGINAL_YUNET, file=YUNET_MASKS_FILE)
# The detector a new bundle gets.
DEFAULT_DETECTOR = MASKS_YUNET
# The seeds' detector, for deployments that move over from pyimagesearch-style code.
RES10_DETECTOR = DetectorInfo(
    kind="res10",
    file="res10_300x300_ssd_iter_140000.caffemodel",
    config_file="deploy.prototxt.txt",
    score_threshold=0.5,
)


def create_detector(info: DetectorInfo, folder: Path) -> FaceDetector:
    """The detector of kind ``info.kind``, its files read from ``folder``."""
    try:
        factory = DETECTORS[info.kind]
    except KeyError:
        known = ", ".join(sorted(DETECTORS))
        raise BundleError(f"unknown detector kind {info.kind!r}; known kinds: {known}") from None
    return factory(info, folder)
