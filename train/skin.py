"""Skin colour: CIE Lab of a patch of pixels, and the individual typology angle (ITA).

ITA = atan((L* - 50) / b*) in degrees (Chardon et al., 1991): high for light skin, low
or negative for dark skin. Used to paint masks in colours far from the face's own skin
(:mod:`maskwatch.train.synthetic_masks`) and to report bare-face accuracy by skin tone
(:mod:`maskwatch.train.evaluate`).
"""

import math

import cv2
import numpy as np

# (name, lowest ITA in the bin), from the lightest bin down; the last bin has no floor.
ITA_BINS: tuple[tuple[str, float], ...] = (
    ("very light (ITA > 55)", 55.0),
    ("light (41-55)", 41.0),
    ("intermediate / tan (10-41)", 10.0),
    ("brown / dark (< 10)", -math.inf),
)


def lab_of(pixels_rgb: np.ndarray) -> np.ndarray:
    """CIE Lab (L 0..100, a and b about -128..127) of uint8 RGB pixels, shape (..., 3)."""
    pixels = np.asarray(pixels_rgb, np.float32).reshape(-1, 1, 3) / 255.0
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2Lab).reshape(np.shape(pixels_rgb))


def median_lab(pixels_rgb: np.ndarray) -> np.ndarray:
    """The median Lab colour of a patch (any shape ending in 3)."""
    return np.median(lab_of(np.asarray(pixels_rgb).reshape(-1, 3)), axis=0)


def typology_angle(lab: np.ndarray) -> float:
    """ITA in degrees of one Lab colour, -90..90 (b* at least a hundredth: skin is never
    blue, and shadowed or mistaken pixels should not wrap round to the other end)."""
    return math.degrees(math.atan((float(lab[0]) - 50.0) / max(float(lab[2]), 0.01)))


def ita_bin(angle: float) -> str:
    """The name of the :data:`ITA_BINS` bin that holds ``angle``."""
    return next(name for name, floor in ITA_BINS if angle > floor)


def patch(image: np.ndarray, centre: tuple[float, float], radius: float) -> np.ndarray:
    """The pixels of a square of half-side ``radius`` (at least 1 px) around ``centre``,
    clipped to the image; shape (N, 3)."""
    height, width = image.shape[:2]
    r = max(1, round(radius))
    x, y = round(centre[0]), round(centre[1])
    x1, x2 = max(0, x - r), min(width, x + r + 1)
    y1, y2 = max(0, y - r), min(height, y + r + 1)
    return image[y1:y2, x1:x2].reshape(-1, 3)
