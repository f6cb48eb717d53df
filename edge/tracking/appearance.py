"""What a person looks like below the face: a colour histogram of their clothes.

A face lost for a few seconds (the head turned down, a hand over it, a step out of view)
comes back where overlap and distance cannot link it with confidence. The clothes under
the face change little in that time, and much between two people, so the tracker
compares this descriptor before it calls a returning face someone new. A hue-saturation
histogram ignores most of a change of light. Sampled down to about 48 pixels a side, it
costs about 0.05 ms a face (docs/tracking.md).
"""

import cv2
import numpy as np

from maskwatch.core.preprocess import Box

HUE_BINS, SATURATION_BINS = 16, 8
MIN_PIXELS = 400  # a smaller clothes patch (a face at the frame's bottom) says too little
MIN_SATURATION, MIN_VALUE = 0, 40  # near-black pixels have no reliable hue
SAMPLED_SIDE = 48  # a patch is sampled down to about this many pixels on its shorter side


def clothes_box(face: Box, width: int, height: int) -> Box | None:
    """The patch under ``face`` where the clothes are: from a fifth of a face below the chin
    to one and a half faces below it, a little wider than the face; clipped to the frame,
    None when too little of it is inside."""
    x1, y1, x2, y2 = face
    w, h = x2 - x1, y2 - y1
    box = (max(0, int(x1 - 0.3 * w)), max(0, int(y2 + 0.2 * h)),
           min(width, int(x2 + 0.3 * w)), min(height, int(y2 + 1.5 * h)))  # fmt: skip
    if (box[2] - box[0]) * (box[3] - box[1]) < MIN_PIXELS:
        return None
    return box


def describe(frame_bgr: np.ndarray, face: Box) -> np.ndarray | None:
    """The normalised hue-saturation histogram of the clothes under ``face``, or None."""
    height, width = frame_bgr.shape[:2]
    box = clothes_box(face, width, height)
    if box is None:
        return None
    x1, y1, x2, y2 = box
    step = max(1, min(x2 - x1, y2 - y1) // SAMPLED_SIDE)  # every step-th pixel: colours suffice
    hsv = cv2.cvtColor(frame_bgr[y1:y2:step, x1:x2:step], cv2.COLOR_BGR2HSV)
    lit = cv2.inRange(hsv, (0, MIN_SATURATION, MIN_VALUE), (180, 255, 255))
    histogram = cv2.calcHist([hsv], [0, 1], lit, [HUE_BINS, SATURATION_BINS], [0, 180, 0, 256])
    total = float(histogram.sum())
    if total < MIN_PIXELS / 4 / step**2:
        return None
    return (histogram / total).astype(np.float32)


def similarity(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """Histogram intersection, 0 (nothing shared) to 1 (the same colours); 0 when either
    is unknown."""
    if a is None or b is None:
        return 0.0
    return float(np.minimum(a, b).sum())


def blend(old: np.ndarray | None, new: np.ndarray | None, weight: float = 0.3) -> np.ndarray | None:
    """A running descriptor: mostly what was seen, some of the latest."""
    if old is None or new is None:
        return new if old is None else old
    return ((1 - weight) * old + weight * new).astype(np.float32)
