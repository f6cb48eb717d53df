"""Training targets for the fine-tuned face detector, and the random crops it learns from.

For every training scene of the saved split (scenes with face boxes, never crops):
- the annotated faces are the targets, in the annotators' box convention;
- the original YuNet runs on the photo at full resolution. Its landmarks on the faces it
  matches become their landmark targets; its confident boxes that match no annotation
  (real faces the annotators skipped) become extra targets, moved into the annotators'
  convention by :class:`BoxConvention`; its unsure boxes become regions with no loss,
  so the fine-tune neither learns nor unlearns them;
- a second copy of the photo gets a mask painted on every unmasked face big enough for
  FaceMesh (:class:`maskwatch.train.synthetic_masks.MaskPainter`), keeping the unmasked face's
  landmarks and box: the masked faces YuNet never saw, with targets it already knew.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from maskwatch.core.images import read_image
from maskwatch.core.matching import iou_matrix, match_greedy
from maskwatch.core.preprocess import BoxConvention, square_crop_box
from maskwatch.train.datasets import IGNORE, FaceSample
from maskwatch.train.synthetic_masks import MaskPainter

CONFIDENT = 0.8  # original YuNet's unmatched boxes at or above this become extra targets
UNSURE = 0.3  # ... between UNSURE and CONFIDENT become no-loss regions
MATCH_IOU = 0.4
MIN_PAINT_WIDTH = 20  # FaceMesh needs some pixels; smaller faces stay unpainted
MAX_SIDE = 1280  # photos are detected and stored at most this large
MIN_CROP_SIDE = 288  # the smallest long side a photo is scaled to for a crop, px
MAX_CROP_SIDE = 1100  # the largest long side a photo is scaled to for a crop, px
PAINTED_SHARE = 0.35  # how often a crop comes from the painted copy: unmasked faces stay common
FLIP_LANDMARKS = [1, 0, 2, 4, 3]  # right eye <-> left eye, right mouth <-> left mouth


@dataclass
class SceneTargets:
    """One photo's targets, in the pixels of the stored (at most MAX_SIDE) image."""

    image: Path
    boxes: np.ndarray  # (n, 4) x1 y1 x2 y2
    landmarks: np.ndarray  # (n, 5, 2); NaN where unknown
    ignore: np.ndarray  # (m, 4) regions with no objectness loss
    painted: Path | None = None  # the same photo with masks on its unmasked faces
    masked: int = 0  # annotated masked faces (for the summary)
    unmasked: int = 0
    extra: int = 0  # the original detector's confident unannotated faces
    painted_faces: int = 0


@dataclass
class YuNetFaces:
    boxes: np.ndarray  # (n, 4)
    landmarks: np.ndarray  # (n, 5, 2)
    scores: np.ndarray  # (n,)


def detect_full(detector_path: Path, image: np.ndarray, threshold: float) -> YuNetFaces:
    """The original YuNet on the whole (stored) photo."""
    height, width = image.shape[:2]
    net = cv2.FaceDetectorYN.create(str(detector_path), "", (width, height), threshold, 0.3, 5000)
    _, faces = net.detect(image)
    if faces is None:
        return YuNetFaces(np.zeros((0, 4)), np.zeros((0, 5, 2)), np.zeros(0))
    boxes = np.concatenate([faces[:, :2], faces[:, :2] + faces[:, 2:4]], axis=1)
    return YuNetFaces(boxes, faces[:, 4:14].reshape(-1, 5, 2), faces[:, 14])


def _stored_image(path: Path, cache: Path) -> tuple[np.ndarray, float, Path]:
    """The photo at most MAX_SIDE px long (stored in the cache when shrunk), and its scale."""
    image = read_image(path)
    scale = min(1.0, MAX_SIDE / max(image.shape[:2]))
    if scale == 1.0:
        return image, scale, path
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    stored = cache / f"{_key(path)}.jpg"
    cv2.imwrite(str(stored), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return image, scale, stored


def _key(path: Path) -> str:
    return hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]


def paint_masks(
    image_bgr: np.ndarray, boxes: np.ndarray, painter: MaskPainter
) -> tuple[np.ndarray, int]:
    """A copy with a mask painted on each box FaceMesh finds a face in; and how many."""
    out = image_bgr.copy()
    height, width = out.shape[:2]
    painted = 0
    for box in boxes:
        if box[2] - box[0] < MIN_PAINT_WIDTH:
            continue
        x1, y1, x2, y2 = square_crop_box(tuple(int(v) for v in box), width, height, 0.25)
        crop = out[y1:y2, x1:x2]
        result = painter.paint(np.ascontiguousarray(crop[..., ::-1]))
        if result is not None:
            out[y1:y2, x1:x2] = result[..., ::-1]
            painted += 1
    return out, painted


def build_targets(
    by_image: dict[Path, list[FaceSample]],
    detector_path: Path,
    cache: Path,
    painter: MaskPainter | None,
    log: bool = True,
) -> tuple[list[SceneTargets], BoxConvention]:
    """Targets for every photo (see the module docstring); painted copies go to ``cache``."""
    cache.mkdir(parents=True, exist_ok=True)
    rows = []
    pairs_yunet, pairs_annotated = [], []
    for n, (path, faces) in enumerate(sorted(by_image.items()), 1):
        image, scale, stored = _stored_image(path, cache)
        annotated = [f for f in faces if f.label != IGNORE]
        boxes = np.asarray([f.box for f in annotated], np.float32).reshape(-1, 4) * scale
        found = detect_full(detector_path, image, UNSURE)
        matches = match_greedy(found.boxes.tolist(), boxes.tolist(), MATCH_IOU)
        for p, g in matches:
            pairs_yunet.append(found.boxes[p])
            pairs_annotated.append(boxes[g])
        rows.append((path, stored, image, annotated, boxes, found, matches))
        if log and n % 100 == 0:
            print(f"  detector targets: {n}/{len(by_image)} photos", flush=True)
    convention = BoxConvention.fit(np.asarray(pairs_yunet), np.asarray(pairs_annotated))

    scenes = []
    for path, stored, image, annotated, boxes, found, matches in rows:
        landmarks = np.full((len(boxes), 5, 2), np.nan, np.float32)
        for p, g in matches:
            landmarks[g] = found.landmarks[p]
        matched = {p for p, _ in matches}
        overlaps = iou_matrix(found.boxes.tolist(), boxes.tolist())
        free = [p for p in range(len(found.scores)) if p not in matched]
        free = [p for p in free if not overlaps.size or overlaps[p].max(initial=0) < 0.1]
        extra = [p for p in free if found.scores[p] >= CONFIDENT]
        unsure = [p for p in free if found.scores[p] < CONFIDENT]
        all_boxes = np.concatenate([boxes, convention.apply(found.boxes[extra])])
        all_landmarks = np.concatenate([landmarks, found.landmarks[extra]])
        scene = SceneTargets(
            image=stored,
            boxes=all_boxes.astype(np.float32),
            landmarks=all_landmarks.astype(np.float32),
            ignore=found.boxes[unsure].astype(np.float32).reshape(-1, 4),
            masked=sum(f.label != "no_mask" for f in annotated),
            unmasked=sum(f.label == "no_mask" for f in annotated),
            extra=len(extra),
        )
        unmasked = [g for g, f in enumerate(annotated) if f.label == "no_mask"]
        unmasked += list(range(len(boxes), len(all_boxes)))  # the extra faces are unmasked too
        if painter is not None and unmasked:
            copy, count = paint_masks(image, all_boxes[unmasked], painter)
            if count:
                scene.painted = cache / f"{_key(path)}-masked.jpg"
                cv2.imwrite(str(scene.painted), copy, [cv2.IMWRITE_JPEG_QUALITY, 95])
                scene.painted_faces = count
        scenes.append(scene)
    return scenes, convention


def save_targets(scenes: list[SceneTargets], convention: BoxConvention, path: Path) -> None:
    rows = [
        {
            "image": str(s.image),
            "painted": str(s.painted) if s.painted else None,
            "boxes": s.boxes.round(2).tolist(),
            "landmarks": np.where(np.isnan(s.landmarks), None, s.landmarks.round(2)).tolist(),
            "ignore": s.ignore.round(2).tolist(),
            "counts": [s.masked, s.unmasked, s.extra, s.painted_faces],
        }
        for s in scenes
    ]
    payload = {"convention": convention.__dict__, "scenes": rows}
    path.write_text(json.dumps(payload))


def load_targets(path: Path) -> tuple[list[SceneTargets], BoxConvention]:
    payload = json.loads(path.read_text())
    scenes = []
    for row in payload["scenes"]:
        landmarks = np.array(
            [[[np.nan if v is None else v for v in p] for p in face] for face in row["landmarks"]],
            np.float32,
        ).reshape(-1, 5, 2)
        masked, unmasked, extra, painted_faces = row["counts"]
        scenes.append(
            SceneTargets(
                image=Path(row["image"]),
                boxes=np.asarray(row["boxes"], np.float32).reshape(-1, 4),
                landmarks=landmarks,
                ignore=np.asarray(row["ignore"], np.float32).reshape(-1, 4),
                painted=Path(row["painted"]) if row["painted"] else None,
                masked=masked,
                unmasked=unmasked,
                extra=extra,
                painted_faces=painted_faces,
            )
        )
    return scenes, BoxConvention(**payload["convention"])


def summary(scenes: list[SceneTargets], convention: BoxConvention) -> dict:
    """What the detector was trained on, for the manifest and the docs."""
    return {
        "photos": len(scenes),
        "annotated_masked_faces": sum(s.masked for s in scenes),
        "annotated_unmasked_faces": sum(s.unmasked for s in scenes),
        "extra_faces_from_original_detector": sum(s.extra for s in scenes),
        "painted_masked_faces": sum(s.painted_faces for s in scenes),
        "photos_with_painted_copy": sum(s.painted is not None for s in scenes),
        "box_convention": {k: round(v, 4) for k, v in convention.__dict__.items()},
    }


@dataclass
class Batch:
    images: np.ndarray  # (B, S, S, 3) float32 BGR 0-255
    boxes: np.ndarray  # (B, G, 4)
    box_valid: np.ndarray  # (B, G) bool
    landmarks: np.ndarray  # (B, G, 5, 2); NaN unknown
    ignore: np.ndarray  # (B, I, 4)
    ignore_valid: np.ndarray  # (B, I) bool


class CropSampler:
    """Random square crops of the photos at random scales, flipped and colour-jittered.

    The photo's long side is scaled to between ``min_side`` and ``max_side`` px (log-uniform),
    so one face appears as it would at the daemon's 320 px and at 640 px or more. Crops are
    padded at the bottom and right with black, as ``cv2.FaceDetectorYN`` pads its input.
    """

    def __init__(
        self,
        scenes: list[SceneTargets],
        size: int = 320,
        min_side: float = MIN_CROP_SIDE,
        max_side: float = MAX_CROP_SIDE,
        seed: int = 0,
    ) -> None:
        self.scenes, self.size = scenes, size
        self.min_side, self.max_side = min_side, max_side
        self.rng = np.random.default_rng(seed)
        self._images: dict[Path, np.ndarray] = {}

    def _image(self, path: Path) -> np.ndarray:
        if path not in self._images:
            self._images[path] = read_image(path)
        return self._images[path]

    def sample(self, batch: int, max_faces: int = 48, max_ignore: int = 16) -> Batch:
        s = self.size
        out = Batch(
            np.zeros((batch, s, s, 3), np.float32),
            np.zeros((batch, max_faces, 4), np.float32),
            np.zeros((batch, max_faces), bool),
            np.full((batch, max_faces, 5, 2), np.nan, np.float32),
            np.zeros((batch, max_ignore, 4), np.float32),
            np.zeros((batch, max_ignore), bool),
        )
        for b in range(batch):
            image, boxes, landmarks, ignore = self._one()
            out.images[b] = image
            n, m = min(len(boxes), max_faces), min(len(ignore), max_ignore)
            out.boxes[b, :n], out.box_valid[b, :n], out.landmarks[b, :n] = (
                boxes[:n],
                True,
                landmarks[:n],
            )
            out.ignore[b, :m], out.ignore_valid[b, :m] = ignore[:m], True
        return out

    def _one(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        rng, s = self.rng, self.size
        scene = self.scenes[rng.integers(len(self.scenes))]
        use_painted = scene.painted is not None and rng.random() < PAINTED_SHARE
        image = self._image(scene.painted if use_painted else scene.image)
        height, width = image.shape[:2]
        side = np.exp(rng.uniform(np.log(self.min_side), np.log(self.max_side)))
        scale = side / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        shrink = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        image = cv2.resize(image, size, interpolation=shrink)
        boxes, landmarks = scene.boxes * scale, scene.landmarks * scale
        ignore = scene.ignore * scale

        # The crop's corner: around a random face most of the time, anywhere otherwise.
        span_x, span_y = max(0, size[0] - s), max(0, size[1] - s)
        if len(boxes) and rng.random() < 0.8:
            box = boxes[rng.integers(len(boxes))]
            x0 = rng.uniform(box[2] - s, box[0]) if box[2] - box[0] < s else box[0]
            y0 = rng.uniform(box[3] - s, box[1]) if box[3] - box[1] < s else box[1]
            x0, y0 = int(np.clip(x0, 0, span_x)), int(np.clip(y0, 0, span_y))
        else:
            x0, y0 = int(rng.integers(span_x + 1)), int(rng.integers(span_y + 1))
        crop = np.zeros((s, s, 3), np.float32)
        part = image[y0 : y0 + s, x0 : x0 + s]
        crop[: part.shape[0], : part.shape[1]] = self._jitter(part)
        offset = np.array([x0, y0, x0, y0], np.float32)
        boxes, ignore = boxes - offset, ignore - offset
        landmarks = landmarks - offset[:2]
        limit = np.array([part.shape[1], part.shape[0]] * 2, np.float32)

        # Faces mostly outside the crop, or too small to learn, become no-loss regions.
        clipped = np.clip(boxes, 0, limit)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        kept_area = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
        visible = kept_area / np.maximum(area, 1e-6)
        keep = (visible >= 0.6) & (clipped[:, 2] - clipped[:, 0] >= 5)
        partial = ~keep & (kept_area > 0)
        ignore = np.concatenate([clipped[partial], np.clip(ignore, 0, limit)])
        boxes, landmarks = clipped[keep], landmarks[keep]

        if rng.random() < 0.5:
            crop = crop[:, ::-1]
            boxes = np.stack([s - boxes[:, 2], boxes[:, 1], s - boxes[:, 0], boxes[:, 3]], 1)
            ignore = np.stack([s - ignore[:, 2], ignore[:, 1], s - ignore[:, 0], ignore[:, 3]], 1)
            landmarks = landmarks[:, FLIP_LANDMARKS].copy()
            landmarks[..., 0] = s - landmarks[..., 0]
        return crop, boxes, landmarks, ignore.reshape(-1, 4)

    def _jitter(self, part: np.ndarray) -> np.ndarray:
        """Exposure, contrast, white balance, sometimes blur or grey: the photo, not the pad."""
        rng = self.rng
        image = part.astype(np.float32)
        image = image * rng.uniform(0.7, 1.3) + rng.uniform(-25, 25)
        image += rng.uniform(-12, 12, 3)  # white balance
        if rng.random() < 0.2:
            image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 1.2))
        if rng.random() < 0.05:
            image[:] = image.mean(axis=2, keepdims=True)
        return np.clip(image, 0, 255)
