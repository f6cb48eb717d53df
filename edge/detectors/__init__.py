"""Face detectors as small plugins: each kind turns a BGR frame into face boxes.

Adding a detector means one new module with a class that has ``detect`` and an
entry in :data:`DETECTORS`, keyed by the manifest's ``detector.kind``.
"""

from collections.abc import Callable
from dataclasses import dataclass
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


class FaceDetector(Protocol):
    def detect(self, frame_bgr: np.ndarray) -> list[Detection]: ...


def _yunet(info: DetectorInfo, model: Path) -> FaceDetector:
    from edge.detectors.yunet import YuNetDetector

    return YuNetDetector(model, info)


DETECTORS: dict[str, Callable[[DetectorInfo, Path], FaceDetector]] = {"yunet": _yunet}

# The detector a new bundle gets, and the one training uses to make device-like crops.
YUNET_FILE = "face_detection_yunet_2026may.onnx"
DEFAULT_DETECTOR = DetectorInfo(
    kind="yunet", file=YUNET_FILE, score_threshold=0.6, nms_threshold=0.3, max_side=640
)


def create_detector(info: DetectorInfo, model: Path) -> FaceDetector:
    try:
        factory = DETECTORS[info.kind]
    except KeyError:
        known = ", ".join(sorted(DETECTORS))
        raise BundleError(f"unknown detector kind {info.kind!r}; known kinds: {known}") from None
    return factory(info, model)
