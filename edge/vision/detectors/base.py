"""What every detector plugin returns, and the one method it has."""

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from maskwatch.core.preprocess import Box


@dataclass(frozen=True)
class Detection:
    box: Box  # pixels of the frame passed to detect()
    score: float


class FaceDetector(Protocol):
    def detect(self, frame_bgr: np.ndarray) -> list[Detection]: ...
