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


@dataclass(frozen=True)
class BoxConvention:
    """How annotators draw a face relative to YuNet's box: centre shift and size, per side.

    The fine-tuned detector draws the annotators' boxes; the classifier's training crops
    were cut around the original YuNet's. The bundle records the map back
    (``DetectorInfo.crop_convention``), so the device crops what the classifier learned on.
    """

    dx: float  # centre shift in units of YuNet's box width
    dy: float
    scale_w: float
    scale_h: float

    @classmethod
    def fit(cls, yunet: np.ndarray, annotated: np.ndarray) -> "BoxConvention":
        """Median fit on matched (x1, y1, x2, y2) pairs."""
        yw, yh = yunet[:, 2] - yunet[:, 0], yunet[:, 3] - yunet[:, 1]
        aw, ah = annotated[:, 2] - annotated[:, 0], annotated[:, 3] - annotated[:, 1]
        dx = ((annotated[:, 0] + annotated[:, 2]) - (yunet[:, 0] + yunet[:, 2])) / 2 / yw
        dy = ((annotated[:, 1] + annotated[:, 3]) - (yunet[:, 1] + yunet[:, 3])) / 2 / yh
        return cls(
            float(np.median(dx)),
            float(np.median(dy)),
            float(np.median(aw / yw)),
            float(np.median(ah / yh)),
        )

    def apply(self, boxes: np.ndarray) -> np.ndarray:
        """(n, 4) x1 y1 x2 y2 boxes in YuNet's way -> the same faces in the annotators' way."""
        w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        cx = (boxes[:, 0] + boxes[:, 2]) / 2 + self.dx * w
        cy = (boxes[:, 1] + boxes[:, 3]) / 2 + self.dy * h
        w, h = w * self.scale_w, h * self.scale_h
        return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)

    def inverse(self) -> "BoxConvention":
        """The map back: annotators' boxes -> YuNet's."""
        return BoxConvention(
            -self.dx / self.scale_w, -self.dy / self.scale_h, 1 / self.scale_w, 1 / self.scale_h
        )

    def map_box(self, box: Box, image_width: int, image_height: int) -> Box:
        """One pixel box mapped, rounded and clamped to the image."""
        x1, y1, x2, y2 = self.apply(np.asarray([box], np.float64))[0]
        return (
            max(0, round(x1)),
            max(0, round(y1)),
            min(image_width, max(round(x2), round(x1) + 1)),
            min(image_height, max(round(y2), round(y1) + 1)),
        )


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
