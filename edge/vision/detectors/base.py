"""What every detector plugin returns, and the one method it has."""

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from maskwatch.core.preprocess import Box


@dataclass(frozen=True)
class Detection:
    box: Box  # pixels of the frame passed to detect()
    score: float
    # YuNet's five points (x, y) in the same pixels: right eye, left eye, nose tip, right
    # and left mouth corner (the subject's right and left); empty from other detectors.
    landmarks: tuple[tuple[float, float], ...] = ()


class FaceDetector(Protocol):
    def detect(self, frame_bgr: np.ndarray) -> list[Detection]: ...
