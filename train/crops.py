"""Turn annotated faces into classifier inputs with the device's own crop code.

Two ways to choose the box that is cropped:
- ``annotated``: the dataset's box;
- ``detector``: the box the bundle's face detector finds for that face (matched by
  IoU >= 0.4), so training sees the framing the device will see. Faces the detector
  misses fall back to their annotated box.

A whole-image sample (a photo of one person, no box) is kept whole, or with
``cut_whole=True`` cut at the detector's most confident face, as the device would cut
it; a photo where the detector finds no face is then left out.
"""

import hashlib
import json
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from maskwatch.core.labels import CLASSIFIER_LABELS
from maskwatch.core.matching import match_greedy
from maskwatch.core.preprocess import Box, PreprocessSpec, crop_face
from maskwatch.train.datasets import FaceSample
from maskwatch.vision.detectors.base import FaceDetector

CROP_MODES = ("annotated", "detector")


def _boxes_for(
    image: np.ndarray,
    faces: list[FaceSample],
    detector: FaceDetector | None,
    cut_whole: bool = False,
) -> list[Box | None]:
    """The box to crop for each face; None: leave the face out."""
    height, width = image.shape[:2]
    boxes: list[Box | None] = [face.box or (0, 0, width, height) for face in faces]
    if detector is None:
        return boxes
    if all(face.box is None for face in faces):
        if not cut_whole:
            return boxes
        detections = detector.detect(image)
        best = max(detections, key=lambda d: d.score).box if detections else None
        return [best for _ in faces]
    found = [d.box for d in detector.detect(image)]
    for d, g in match_greedy(found, boxes, 0.4):
        boxes[g] = found[d]
    return boxes


def load_crops(
    samples: list[FaceSample],
    spec: PreprocessSpec,
    min_face: int = 8,
    detector: FaceDetector | None = None,
    cut_whole: bool = False,
) -> tuple[np.ndarray, np.ndarray, list[FaceSample]]:
    """Crop every face with a classifier label at least ``min_face`` px wide (annotated width).

    With ``detector``, scene faces are cropped at the detector's matching box, and with
    ``cut_whole`` too, whole-image samples at its most confident face (see the module).
    Returns uint8 crops (N, S, S, 3), label indices (N,), and the samples kept.
    """
    by_image: dict[Path, list[FaceSample]] = defaultdict(list)
    for sample in samples:
        if sample.label in CLASSIFIER_LABELS:
            by_image[sample.image].append(sample)
    crops, labels, kept = [], [], []
    for image_path, faces in by_image.items():
        image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"{image_path}: cannot read image")
        boxes = _boxes_for(image, faces, detector, cut_whole)
        for sample, box in zip(faces, boxes, strict=True):
            if box is None:
                continue
            annotated = sample.box or box
            if annotated[2] - annotated[0] < min_face:
                continue
            crops.append(crop_face(image, box, spec))
            labels.append(CLASSIFIER_LABELS.index(sample.label))
            kept.append(sample)
    size = spec.input_size
    array = np.stack(crops) if crops else np.zeros((0, size, size, 3), np.uint8)
    return array, np.asarray(labels, dtype=np.int64), kept


def face_widths(samples: list[FaceSample]) -> np.ndarray:
    """Annotated face widths in pixels; 0 for a whole-image crop."""
    return np.asarray([s.box[2] - s.box[0] if s.box else 0 for s in samples], dtype=np.int64)


def cached_crops(
    samples: list[FaceSample],
    spec: PreprocessSpec,
    cache: Path | None,
    detector: FaceDetector | None = None,
    cut_whole: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`load_crops` (crops, labels, annotated widths), kept in ``cache`` under a key
    made of the faces, the crop settings and the detector's model, so a second run on the
    same split skips the detector pass."""
    if cache is None:
        x, y, kept = load_crops(samples, spec, detector=detector, cut_whole=cut_whole)
        return x, y, face_widths(kept)
    identity = {
        "faces": [(str(s.image), s.box, s.label) for s in samples],
        "spec": repr(spec),
        "detector": repr(getattr(detector, "info", detector)),
    }
    if cut_whole:  # absent otherwise, so the caches of earlier runs stay valid
        identity["whole_images"] = "cut at the most confident face"
    key = hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:16]
    path = cache / f"crops-{key}.npz"
    if path.is_file():
        with np.load(path) as stored:
            return stored["x"], stored["y"], stored["widths"]
    x, y, kept = load_crops(samples, spec, detector=detector, cut_whole=cut_whole)
    widths = face_widths(kept)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=x, y=y, widths=widths)
    return x, y, widths
