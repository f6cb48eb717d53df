"""Turn annotated faces into classifier inputs with the device's own crop code."""

from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from edge.labels import CLASSIFIER_LABELS
from edge.preprocess import PreprocessSpec, crop_face
from train.datasets import FaceSample


def load_crops(
    samples: list[FaceSample], spec: PreprocessSpec, min_face: int = 8
) -> tuple[np.ndarray, np.ndarray, list[FaceSample]]:
    """Crop every binary-labelled face at least ``min_face`` px wide.

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
        height, width = image.shape[:2]
        for sample in faces:
            box = sample.box or (0, 0, width, height)
            if box[2] - box[0] < min_face:
                continue
            crops.append(crop_face(image, box, spec))
            labels.append(CLASSIFIER_LABELS.index(sample.label))
            kept.append(sample)
    size = spec.input_size
    array = np.stack(crops) if crops else np.zeros((0, size, size, 3), np.uint8)
    return array, np.asarray(labels, dtype=np.int64), kept
