"""One frame in, labelled faces out: detect, crop with the shared code, classify in one batch."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.bundle import Bundle, load_bundle
from edge.classifier import TFLiteClassifier
from edge.detectors import create_detector
from edge.preprocess import Box, crop_face


@dataclass(frozen=True)
class Face:
    box: Box  # x1, y1, x2, y2 in the frame's pixels
    label: str
    score: float  # classifier probability of ``label``
    detection_score: float

    def as_json(self) -> dict:
        return {"box": list(self.box), "label": self.label, "score": round(self.score, 4)}


class MaskPipeline:
    def __init__(self, bundle: Bundle, threads: int = 1, runtime: str = "auto") -> None:
        manifest = bundle.manifest
        self.bundle = bundle
        self.detector = create_detector(manifest.detector, bundle.root)
        self.classifier = TFLiteClassifier(
            bundle.path_of(manifest.classifier.file), manifest.classifier, threads, runtime
        )
        self.spec = manifest.preprocess

    @classmethod
    def from_bundle_dir(cls, root: Path, threads: int = 1, runtime: str = "auto") -> "MaskPipeline":
        return cls(load_bundle(root), threads, runtime)

    def process(self, frame_bgr: np.ndarray, min_face: int = 0) -> list[Face]:
        detections = [d for d in self.detector.detect(frame_bgr) if d.box[2] - d.box[0] >= min_face]
        crops = [crop_face(frame_bgr, d.box, self.spec) for d in detections]
        results = self.classifier.classify(crops)
        return [
            Face(d.box, r.label, r.score, d.score) for d, r in zip(detections, results, strict=True)
        ]
