"""Face crop and classifier pre-processing, shared by training and the device.

The crop squares the detector's box around its centre, widens it by a margin, clamps
it to the image, and resizes it to the classifier's input. Pixels are RGB, 0..255;
the model itself scales them, so the only conversion here is the runtime's input
quantization (``q = round(x / scale) + zero_point``).
"""

from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 in pixels, x2/y2 exclusive


@dataclass(frozen=True)
class PreprocessSpec:
    """How a face becomes a classifier input. Stored in the bundle's manifest."""

    input_size: int = 64
    crop_margin: float = 0.2
    colour_order: str = "RGB"
    # What the classifier is fed: pixels 0..255; any scaling is inside the model itself.
    normalisation: str = "none (0..255, scaled inside the model)"

    def __post_init__(self) -> None:
        if self.input_size < 8:
            raise ValueError(f"input_size must be at least 8, got {self.input_size}")
        if not 0.0 <= self.crop_margin <= 1.0:
            raise ValueError(f"crop_margin must be in 0..1, got {self.crop_margin}")
        if self.colour_order not in ("RGB", "BGR"):
            raise ValueError(f"colour_order must be RGB or BGR, got {self.colour_order!r}")


def square_crop_box(box: Box, image_width: int, image_height: int, margin: float) -> Box:
    """Square box around ``box``'s centre, ``margin`` wider on each side, clamped to the image.

    Clamping keeps the crop inside the frame, so a face at the border gives a
    rectangle; the resize that follows stretches it rather than inventing pixels.
    """
    x1, y1, x2, y2 = box
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"empty face box {box}")
    side = max(x2 - x1, y2 - y1) * (1.0 + 2.0 * margin)
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    nx1 = max(0, int(round(cx - side / 2.0)))
    ny1 = max(0, int(round(cy - side / 2.0)))
    nx2 = min(image_width, int(round(cx + side / 2.0)))
    ny2 = min(image_height, int(round(cy + side / 2.0)))
    if nx2 <= nx1 or ny2 <= ny1:
        raise ValueError(f"face box {box} lies outside the {image_width}x{image_height} image")
    return nx1, ny1, nx2, ny2


def crop_face(image_bgr: np.ndarray, box: Box, spec: PreprocessSpec) -> np.ndarray:
    """Cut one face from a BGR frame and return it as ``input_size`` square uint8 pixels.

    The result is in the spec's colour order, ready for :func:`to_input_batch`.
    """
    height, width = image_bgr.shape[:2]
    x1, y1, x2, y2 = square_crop_box(box, width, height, spec.crop_margin)
    face = image_bgr[y1:y2, x1:x2]
    size = (spec.input_size, spec.input_size)
    shrinking = face.shape[0] > spec.input_size or face.shape[1] > spec.input_size
    face = cv2.resize(face, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    if spec.colour_order == "RGB":
        face = cv2.cvtColor(face, cv2.COLOR_BGR2RGB)
    return face


def to_input_batch(
    faces: list[np.ndarray] | np.ndarray,
    dtype: np.dtype | type,
    scale: float = 0.0,
    zero_point: int = 0,
) -> np.ndarray:
    """Stack uint8 face crops into one classifier input batch of ``dtype``.

    A float model takes the pixels as float32 0..255. A quantized model takes
    ``round(x / scale) + zero_point``, clipped to the integer type's range.
    """
    batch = np.asarray(faces, dtype=np.float32)
    if batch.ndim == 3:
        batch = batch[np.newaxis]
    target = np.dtype(dtype)
    if target.kind == "f":
        return batch.astype(target, copy=False)
    if scale <= 0.0:
        raise ValueError(f"a {target} input needs a positive quantization scale, got {scale}")
    info = np.iinfo(target)
    quantized = np.rint(batch / scale) + zero_point
    return np.clip(quantized, info.min, info.max).astype(target)
