"""A day at the door, synthesised: a 1280x720, 15 fps sequence with known people in it.

Everything comes from the project's own data and a seed, so every run renders the same
frames: the background is a held-out test scene with its faces painted out (checked
empty by the detector), and the people are single-face test scenes cut out around
the face and pasted in, walking across, near (faces 90-130 px wide) or far (20-40 px).
What a real camera adds is there too: sensor noise, a slow drift of the light, one
exposure step, and a plant swaying in a corner (the ignore mask :data:`PLANT_MASK`
covers it). Frames are rendered one at a time (nothing large is written to disk); each
person's face box in every frame is known, so each person's ``new`` event is too.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from maskwatch.core.preprocess import Box

SIZE = (1280, 720)
FPS = 15
PLANT_MASK = (0.82, 0.0, 1.0, 0.0, 1.0, 0.4, 0.82, 0.4)  # top-right corner, frame fractions
NOISE_SIGMA = 3.0  # grey levels of sensor noise per pixel
NOISE_TILES = 8
DRIFT = 0.06  # the light's slow swing, as a gain of +-6 %
DRIFT_PERIOD = 90.0  # seconds
EXPOSURE_STEP = 1.3  # gain after the exposure step


@dataclass(frozen=True)
class Walker:
    """One person walking into view from the left edge (or the right, ``leftwards``): face
    ``face`` px wide, centred at height ``y`` (frame fraction), from ``start`` seconds for
    ``seconds`` (plus a pause of ``pause`` seconds halfway). They cross ``span`` of the
    way: 1 is out at the other edge, 0.5 is into the door in the middle."""

    start: float
    seconds: float
    face: int
    y: float
    leftwards: bool = False
    pause: float = 0.0
    span: float = 1.0
    person: int | None = None  # which sprite (one person walking twice); None: the walker's own

    @property
    def kind(self) -> str:
        return "far" if self.face <= 40 else "near"


# 3.5 minutes, over 80 % of it without anyone in view: near people crossing (one stops
# for 3 s), far ones walking in from a side to the door in the middle (a far face moves
# few pixels a frame); the exposure step at 100 s, with a person in view.
DAY = (
    Walker(8, 3.0, 110, 0.35),
    Walker(30, 6.0, 28, 0.42, leftwards=True, span=0.5),
    Walker(52, 3.0, 95, 0.38, leftwards=True, pause=3.0),
    Walker(75, 6.0, 22, 0.40, span=0.5),
    Walker(92, 3.0, 125, 0.33),
    Walker(98, 6.0, 35, 0.41, leftwards=True, span=0.5),
    Walker(140, 6.0, 40, 0.44, span=0.5),
    Walker(175, 3.0, 100, 0.36, leftwards=True),
)
DAY_SECONDS, DAY_EXPOSURE_STEP = 210.0, 100.0

# One minute with someone in view all the time, near and far people overlapping.
BUSY = tuple(
    Walker(4.5 * k, 6.0, (24, 32, 38)[k % 3], 0.42, leftwards=bool(k % 2), span=0.5)
    for k in range(13)
) + tuple(Walker(2.0 + 4.5 * k, 3.0, (100, 120)[k % 2], 0.35, leftwards=not k % 2)
          for k in range(13))  # fmt: skip
BUSY_SECONDS = 60.0


@dataclass(frozen=True)
class Sprite:
    image: np.ndarray  # BGR
    alpha: np.ndarray  # float32 0..1, feathered edges
    face: Box  # the face inside the sprite
    label: str


def cut_sprite(image: np.ndarray, face: Box, label: str) -> Sprite:
    """The person around ``face``: a face width either side, 0.6 above, 2.5 below."""
    x1, y1, x2, y2 = face
    w = x2 - x1
    height, width = image.shape[:2]
    left, top = max(0, x1 - w), max(0, int(y1 - 0.6 * w))
    right, bottom = min(width, x2 + w), min(height, int(y2 + 2.5 * w))
    crop = image[top:bottom, left:right]
    alpha = np.zeros(crop.shape[:2], np.float32)
    feather = max(2, w // 6)
    alpha[feather:-feather, feather:-feather] = 1.0
    alpha = cv2.GaussianBlur(alpha, (0, 0), feather / 2)
    return Sprite(crop, alpha, (x1 - left, y1 - top, x2 - left, y2 - top), label)


def scaled(sprite: Sprite, face_width: int) -> Sprite:
    scale = face_width / (sprite.face[2] - sprite.face[0])
    shrink = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    image = cv2.resize(sprite.image, None, fx=scale, fy=scale, interpolation=shrink)
    alpha = cv2.resize(sprite.alpha, (image.shape[1], image.shape[0]), interpolation=shrink)
    face = tuple(int(round(v * scale)) for v in sprite.face)
    return Sprite(image, alpha, face, sprite.label)


def paste(canvas: np.ndarray, sprite: Sprite, x: int, y: int) -> None:
    """``sprite`` blended onto ``canvas`` with its top-left corner at (x, y), clipped."""
    h, w = sprite.image.shape[:2]
    cx1, cy1 = max(0, x), max(0, y)
    cx2, cy2 = min(canvas.shape[1], x + w), min(canvas.shape[0], y + h)
    if cx1 >= cx2 or cy1 >= cy2:
        return
    part = np.s_[cy1 - y : cy2 - y, cx1 - x : cx2 - x]
    alpha = sprite.alpha[part][..., None]
    region = canvas[cy1:cy2, cx1:cx2]
    region[:] = (sprite.image[part] * alpha + region * (1 - alpha)).astype(np.uint8)


def empty_background(
    scenes: list[tuple[Path, list]], detect: Callable[[np.ndarray], list]
) -> np.ndarray:
    """The first scene that, filled to 1280x720 and with its faces painted out, has no face
    the detector finds."""
    for path, faces in scenes:
        image = cv2.imread(str(path))
        scale = max(SIZE[0] / image.shape[1], SIZE[1] / image.shape[0])
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        image = image[: SIZE[1], : SIZE[0]].copy()
        boxes = [tuple(int(v * scale) for v in f.box) for f in faces]
        for _ in range(3):
            mask = np.zeros(image.shape[:2], np.uint8)
            for x1, y1, x2, y2 in boxes:
                pad = (x2 - x1) // 3
                cv2.rectangle(mask, (x1 - pad, y1 - pad), (x2 + pad, y2 + pad), 255, -1)
            image = cv2.inpaint(image, mask, 9, cv2.INPAINT_TELEA)
            boxes = [d.box for d in detect(image)]
            if not boxes:
                return image
    raise SystemExit("door day: no test scene could be emptied of faces for the background")


@dataclass(frozen=True)
class Cover:
    """Walker ``walker``'s face hidden from ``start`` to ``end`` seconds: by a hand (a skin
    coloured oval) or by the head turned down (the top of the head, dark hair)."""

    walker: int
    start: float
    end: float
    kind: str  # hand | down

    COLOURS = {"hand": (120, 150, 200), "down": (30, 32, 40)}  # BGR


@dataclass(frozen=True)
class Change:
    """From ``at`` seconds on, walker ``walker`` looks like ``sprite`` (the same person
    with the mask pulled down, say), scaled to their face width."""

    walker: int
    at: float
    sprite: Sprite


@dataclass(frozen=True)
class Appearance:
    """A walker in one frame: the face box in the frame, if the face is wholly inside."""

    person: int
    face: Box


class DoorSequence:
    def __init__(
        self,
        background: np.ndarray,
        sprites: list[Sprite],
        walkers: tuple[Walker, ...],
        seconds: float,
        exposure_step: float | None,
        seed: int = 14,
        covers: tuple[Cover, ...] = (),
        changes: tuple[Change, ...] = (),
        shake: int = 0,
    ) -> None:
        """``shake``: the camera jitters by up to this many pixels each frame."""
        rng = np.random.default_rng(seed)
        self.background = background
        self.walkers = walkers
        self.frames = int(seconds * FPS)
        self.exposure_step = exposure_step
        self.sprites = [scaled(sprites[(i if w.person is None else w.person) % len(sprites)],
                               w.face) for i, w in enumerate(walkers)]  # fmt: skip
        self.covers = covers
        self.changes = [Change(c.walker, c.at, scaled(c.sprite, walkers[c.walker].face))
                        for c in sorted(changes, key=lambda c: c.at)]  # fmt: skip
        self._shake = rng.integers(-shake, shake + 1, (self.frames, 2)) if shake else None
        noise = rng.normal(NOISE_SIGMA * 2, NOISE_SIGMA, (NOISE_TILES, SIZE[1], SIZE[0], 3))
        self._noise = np.clip(noise, 0, 255).astype(np.uint8)
        self._noise_order = rng.integers(0, NOISE_TILES, self.frames)
        self._leaves = rng.uniform((0.86, 0.03, 0.0), (0.98, 0.33, 6.28), (14, 3))

    def sprite(self, k: int, frame: int) -> Sprite:
        """How walker ``k`` looks in ``frame`` (the latest :class:`Change` by then)."""
        t = frame / FPS
        changed = [c.sprite for c in self.changes if c.walker == k and c.at <= t]
        return changed[-1] if changed else self.sprites[k]

    def covered(self, k: int, frame: int) -> Cover | None:
        t = frame / FPS
        return next((c for c in self.covers if c.walker == k and c.start <= t < c.end), None)

    def position(self, k: int, frame: int) -> tuple[int, int] | None:
        """Top-left corner of walker ``k``'s sprite in ``frame``, None when out of view."""
        walker, sprite = self.walkers[k], self.sprites[k]
        t = frame / FPS - walker.start
        if t < 0 or t > walker.seconds + walker.pause:
            return None
        half = walker.seconds / 2
        walked = t if t < half else max(half, t - walker.pause)
        progress = walked / walker.seconds * walker.span
        h, w = sprite.image.shape[:2]
        if walker.leftwards:
            progress = 1 - progress
        x = int(-w + progress * (SIZE[0] + w))
        fx1, fy1, fx2, fy2 = sprite.face
        y = int(walker.y * SIZE[1] - (fy1 + fy2) / 2)
        return x, y

    def people(self, frame: int, whole: bool = True) -> list[Appearance]:
        """The walkers whose face is wholly (or, ``whole`` False, partly) in view in
        ``frame``."""
        seen = []
        for k in range(len(self.walkers)):
            corner = self.position(k, frame)
            if corner is None:
                continue
            x1, y1, x2, y2 = self.sprite(k, frame).face
            box = (x1 + corner[0], y1 + corner[1], x2 + corner[0], y2 + corner[1])
            inside = box[0] >= 0 and box[1] >= 0 and box[2] <= SIZE[0] and box[3] <= SIZE[1]
            partly = box[2] > 0 and box[0] < SIZE[0]
            if inside or (partly and not whole):
                seen.append(Appearance(k, box))
        return seen

    def gain(self, frame: int) -> float:
        t = frame / FPS
        gain = 1.0 + DRIFT * np.sin(2 * np.pi * t / DRIFT_PERIOD)
        if self.exposure_step is not None and t >= self.exposure_step:
            gain *= EXPOSURE_STEP
        return gain

    def render(self, frame: int) -> np.ndarray:
        image = self.background.copy()
        t = frame / FPS
        for fx, fy, phase in self._leaves:  # the plant, swaying with a 2.5 s period
            sway = 18 * np.sin(2 * np.pi * t / 2.5 + phase / 3)
            centre = (int(fx * SIZE[0] + sway), int(fy * SIZE[1] + sway / 3))
            cv2.ellipse(image, centre, (38, 14), np.degrees(phase), 0, 360, (20, 60, 20), -1)
        for k in range(len(self.walkers)):
            corner = self.position(k, frame)
            if corner is not None:
                sprite = self.sprite(k, frame)
                paste(image, sprite, *corner)
                self._cover(image, k, frame, sprite, corner)
        if self._shake is not None:
            dx, dy = (int(v) for v in self._shake[frame])
            image = cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, dy]]), SIZE,
                                   borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        image = cv2.convertScaleAbs(image, alpha=self.gain(frame), beta=-2 * NOISE_SIGMA)
        return cv2.add(image, self._noise[self._noise_order[frame]])

    def _cover(self, image: np.ndarray, k: int, frame: int, sprite: Sprite,
               corner: tuple[int, int]) -> None:  # fmt: skip
        cover = self.covered(k, frame)
        if cover is None:
            return
        x1, y1, x2, y2 = sprite.face
        centre = (corner[0] + (x1 + x2) // 2, corner[1] + (y1 + y2) // 2)
        axes = (int((x2 - x1) * 0.6), int((y2 - y1) * (0.6 if cover.kind == "hand" else 0.7)))
        cv2.ellipse(image, centre, axes, 0, 0, 360, Cover.COLOURS[cover.kind], -1)


def person_sprites(
    scenes: list[tuple[Path, list]], detect: Callable[[np.ndarray], list], count: int
) -> list[Sprite]:
    """Sprites from single-face scenes whose face is at least 50 px wide and which the
    detector finds, once, in the sprite itself (a person nobody could find is no test)."""
    sprites = []
    for path, faces in scenes:
        if len(faces) != 1 or faces[0].box[2] - faces[0].box[0] < 50:
            continue
        sprite = cut_sprite(cv2.imread(str(path)), faces[0].box, faces[0].label)
        if len(detect(sprite.image)) == 1:
            sprites.append(sprite)
        if len(sprites) == count:
            return sprites
    raise SystemExit(f"door day: only {len(sprites)} usable single-face test scenes")
