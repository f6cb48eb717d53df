"""Reading and annotating still images."""

import time
from pathlib import Path

import cv2
import numpy as np

from maskwatch.core.errors import ImageError
from maskwatch.core.labels import LABEL_COLOURS_BGR


def read_image(path: Path) -> np.ndarray:
    """A BGR image, or an :class:`ImageError` that says why not."""
    return read_image_timed(path)[0]


def read_image_timed(path: Path) -> tuple[np.ndarray, float, float]:
    """:func:`read_image`, with the milliseconds spent reading the file and decoding it."""
    if not path.is_file():
        raise ImageError(f"{path}: no such image file")
    started = time.perf_counter()
    data = np.fromfile(path, dtype=np.uint8)
    read = time.perf_counter()
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ImageError(f"{path}: not a readable image (empty, truncated or not JPEG/PNG)")
    return image, (read - started) * 1000.0, (time.perf_counter() - read) * 1000.0


def annotate(image_bgr: np.ndarray, faces: list) -> np.ndarray:
    """A copy of the image with a coloured box and label per face."""
    out = image_bgr.copy()
    thickness = max(1, round(max(out.shape[:2]) / 400))
    for face in faces:
        x1, y1, x2, y2 = face.box
        colour = LABEL_COLOURS_BGR.get(face.label, (255, 255, 255))
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness)
        text = f"{face.label} {face.score:.2f}"
        cv2.putText(
            out,
            text,
            (x1, max(10, y1 - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4 * thickness,
            colour,
            thickness,
            cv2.LINE_AA,
        )
    return out
