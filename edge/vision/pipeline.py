"""One frame in, labelled faces out: detect, crop with the shared code, classify in one batch."""

import dataclasses
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from maskwatch.core.bundle import Bundle, load_bundle
from maskwatch.core.config import PipelineConfig
from maskwatch.core.preprocess import Box, BoxConvention, crop_face
from maskwatch.core.stats import StageTimes
from maskwatch.vision.classifier import TFLiteClassifier
from maskwatch.vision.detectors import create_detector
from maskwatch.vision.detectors.base import Detection
from maskwatch.vision.regions import Region

FULL_FRAME = (0.0, 0.0, 1.0, 1.0)
UNSCALED = 1 << 16  # a max_side no crop reaches: regions come to the detector already sized


@dataclass(frozen=True)
class Face:
    box: Box  # x1, y1, x2, y2 in the frame's pixels
    label: str
    score: float  # classifier probability of ``label``
    detection_score: float
    classified: bool = True  # False: the label was carried over from the person's track
    probabilities: tuple[float, ...] = ()  # of every label (the manifest's order), if classified
    landmarks: tuple[tuple[float, float], ...] = ()  # the detector's (see Detection)
    # Not masked only by the operating point: P(mask) was the highest, under
    # pipeline.mask_min_score. Such a face votes for its label however unsure (the alarm).
    demoted: bool = False

    def as_json(self) -> dict:
        return {"box": list(self.box), "label": self.label, "score": round(self.score, 4)}


@dataclass(frozen=True)
class FaceFilter:
    """Which detections count: wide enough, their centre inside the region of interest."""

    min_face: int = 0  # pixels
    roi: tuple[float, ...] = FULL_FRAME  # left, top, right, bottom as fractions of the frame

    def keep(self, detections: list[Detection], width: int, height: int) -> list[Detection]:
        left, top, right, bottom = self.roi
        kept = []
        for d in detections:
            x1, y1, x2, y2 = d.box
            cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
            if x2 - x1 >= self.min_face and left <= cx <= right and top <= cy <= bottom:
                kept.append(d)
        return kept


class MaskPipeline:
    def __init__(
        self,
        bundle: Bundle,
        threads: int = 1,
        runtime: str = "auto",
        face_filter: FaceFilter = FaceFilter(),
        detector_score: float = 0.0,
        detector_max_side: int = 0,
        mask_min_score: float = 0.0,
    ) -> None:
        """``threads`` is for the TFLite interpreter and OpenCV (a process-wide setting: OpenCV
        would otherwise take every core). ``detector_score`` and ``detector_max_side``, when
        not 0, replace the bundle's for full-frame passes; regions are detected at their own
        scale (:mod:`maskwatch.vision.regions`)."""
        cv2.setNumThreads(threads)
        manifest = bundle.manifest
        detector = manifest.detector
        if detector_score:
            detector = dataclasses.replace(detector, score_threshold=detector_score)
        if detector_max_side:
            detector = dataclasses.replace(detector, max_side=detector_max_side)
        self.bundle = bundle
        self.detector = create_detector(detector, bundle.root)
        self.full_frame_side = detector.max_side
        region_detector = dataclasses.replace(detector, max_side=UNSCALED, min_side=0)
        self.region_detector = create_detector(region_detector, bundle.root)
        self.classifier = TFLiteClassifier(
            bundle.path_of(manifest.classifier.file),
            manifest.classifier,
            threads,
            runtime,
            mask_min_score,
        )
        self.spec = manifest.preprocess
        self.face_filter = face_filter
        self._crop_convention = (
            BoxConvention(*detector.crop_convention) if detector.crop_convention else None
        )

    @classmethod
    def from_config(cls, bundle: Bundle, config: PipelineConfig) -> "MaskPipeline":
        return cls(
            bundle,
            config.threads,
            config.runtime,
            FaceFilter(config.min_face, config.roi),
            config.detector_score,
            config.detector_max_side,
            config.mask_min_score,
        )

    @classmethod
    def from_bundle_dir(cls, root: Path, threads: int = 1, runtime: str = "auto") -> "MaskPipeline":
        return cls(load_bundle(root), threads, runtime)

    def _crop_box(self, box: Box, width: int, height: int) -> Box:
        """The box the classifier's training crops would have had around this face."""
        if self._crop_convention is None:
            return box
        return self._crop_convention.map_box(box, width, height)

    def detect(self, frame_bgr: np.ndarray, regions: list[Region] | None = None) -> list[Detection]:
        """Faces of the whole frame (``regions`` None), or of those regions only, in the
        frame's pixels."""
        if regions is None:
            return self.detector.detect(frame_bgr)
        detections = []
        for region in regions:
            x1, y1, x2, y2 = region.box
            crop = frame_bgr[y1:y2, x1:x2]
            if region.scale < 1.0:
                size = (max(1, round((x2 - x1) * region.scale)),
                        max(1, round((y2 - y1) * region.scale)))  # fmt: skip
                crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
            for d in self.region_detector.detect(crop):
                detections.append(Detection(region.to_frame(d.box), d.score))
        return detections

    def detect_faces(
        self,
        frame_bgr: np.ndarray,
        regions: list[Region] | None = None,
        times: StageTimes | None = None,
    ) -> list[Detection]:
        """The faces :meth:`detect` finds that the face filter keeps; ``times`` records the
        detect stage."""
        if regions == []:
            return []  # nothing moves and nobody is tracked: the detector rests
        height, width = frame_bgr.shape[:2]
        with times.measure("detect") if times else nullcontext():
            return self.face_filter.keep(self.detect(frame_bgr, regions), width, height)

    def classify(
        self, frame_bgr: np.ndarray, detections: list[Detection], times: StageTimes | None = None
    ) -> list[Face]:
        """Crop each detected face with the shared code and classify them in one batch;
        ``times`` records the crop and classify stages."""
        height, width = frame_bgr.shape[:2]
        with times.measure("crop") if times else nullcontext():
            crops = [crop_face(frame_bgr, self._crop_box(d.box, width, height), self.spec)
                     for d in detections]  # fmt: skip
        with times.measure("classify") if times else nullcontext():
            results = self.classifier.classify(crops)
        return [
            Face(d.box, r.label, r.score, d.score, True, r.probabilities, d.landmarks, r.demoted)
            for d, r in zip(detections, results, strict=True)
        ]

    def process(
        self,
        frame_bgr: np.ndarray,
        times: StageTimes | None = None,
        regions: list[Region] | None = None,
    ) -> list[Face]:
        """Every face of the frame, or of ``regions`` of it (see :meth:`detect`), classified."""
        return self.classify(frame_bgr, self.detect_faces(frame_bgr, regions, times), times)
