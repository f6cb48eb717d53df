"""Face detectors alone on the test scenes: ``python -m maskwatch.train.detector_report``.

Each YuNet-format ONNX file runs through ``cv2.FaceDetectorYN`` (as the bundle runs it)
over the test split of the saved split, with the checked annotation fixes applied, once
per ``max_side`` at a low score threshold; higher thresholds are applied afterwards
(NMS keeps a box only against higher-scored ones, so this equals running at them).
Scored by :func:`maskwatch.train.evaluate.match_scene`: detection recall per class and face
width, and the false-positive boxes (24 px or more, unmatched, not an ignore region).

A precision-recall curve per class sweeps the score threshold. For class C a detection
is a true positive when it found a face of class C and a false positive when it found
nothing; one on a face of the other class or on an ignore region counts neither way.
"""

import argparse
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from maskwatch.core.bundle import DetectorInfo
from maskwatch.core.errors import MaskwatchError
from maskwatch.core.images import read_image
from maskwatch.core.labels import CLASSIFIER_LABELS, MASK, NO_MASK
from maskwatch.train.annotation_fixes import FixedScenes, apply_fixes, load_fixes
from maskwatch.train.data import DEFAULT_SOURCES, read_sources
from maskwatch.train.datasets import DatasetError
from maskwatch.train.evaluate import (
    ALL_WIDTHS,
    DEFAULT_FIXES,
    MAX_SIDES,
    WIDTH_BINS,
    match_scene,
    scene_samples,
    width_bin,
)
from maskwatch.train.reports import plot_precision_recall
from maskwatch.train.split import apply_split
from maskwatch.vision.detectors.base import Detection
from maskwatch.vision.detectors.yunet import YuNetDetector

SWEEP_SCORE = 0.05  # the threshold the detector runs at; the sweep starts here
THRESHOLDS = np.round(np.arange(SWEEP_SCORE, 1.0, 0.025), 3)
CLASS_NAMES = {MASK: "masked", NO_MASK: "unmasked"}

Detections = dict[Path, list[Detection]]  # per image


@dataclass(frozen=True)
class DetectionFigures:
    """One detector at one threshold: faces per (label, width bin), and false positives."""

    annotated: Counter
    detected: Counter
    false_positives: int

    def recall(self, label: str, bin_name: str = ALL_WIDTHS) -> float | None:
        keys = [name for name, _ in WIDTH_BINS] if bin_name == ALL_WIDTHS else [bin_name]
        annotated = sum(self.annotated[label, key] for key in keys)
        detected = sum(self.detected[label, key] for key in keys)
        return detected / annotated if annotated else None

    def precision(self, label: str) -> float:
        """Detections that found a face of ``label`` among those and the false positives."""
        found = sum(self.detected[label, name] for name, _ in WIDTH_BINS)
        return found / (found + self.false_positives) if found + self.false_positives else 1.0


def load_detector(model: Path, max_side: int, nms: float = 0.3) -> YuNetDetector:
    """The detector as the bundle runs it, keeping boxes down to :data:`SWEEP_SCORE`."""
    if not model.is_file():
        raise DatasetError(f"{model}: no such detector file; give --detector NAME=PATH.onnx")
    info = DetectorInfo(kind="yunet", file=model.name, score_threshold=SWEEP_SCORE,
                        nms_threshold=nms, max_side=max_side)  # fmt: skip
    return YuNetDetector(model, info)


def run_detector(detector: YuNetDetector, images: list[Path]) -> Detections:
    return {image: detector.detect(read_image(image)) for image in images}


def detection_figures(
    detections: Detections, scenes: FixedScenes, threshold: float
) -> DetectionFigures:
    annotated, detected, false_positives = Counter(), Counter(), 0
    for image, faces in scenes.faces.items():
        boxes = [d.box for d in detections[image] if d.score >= threshold]
        scene = match_scene(boxes, faces, scenes.ignore.get(image, []))
        for g, p in scene.found.items():
            key = faces[g].label, width_bin(faces[g].box)
            annotated[key] += 1
            detected[key] += p is not None
        false_positives += len(scene.false_positives)
    return DetectionFigures(annotated, detected, false_positives)


def precision_recall(
    detections: Detections, scenes: FixedScenes, label: str
) -> tuple[list[float], list[float]]:
    """Precision and recall for ``label`` at each of :data:`THRESHOLDS`."""
    sweep = [detection_figures(detections, scenes, t) for t in THRESHOLDS]
    return [f.precision(label) for f in sweep], [f.recall(label) or 0.0 for f in sweep]


def _cell(figures: DetectionFigures, label: str, bin_name: str) -> str:
    recall = figures.recall(label, bin_name)
    return "-" if recall is None else f"{recall:.3f}"


def recall_table(rows: dict[tuple[str, float, int], DetectionFigures]) -> list[str]:
    """Markdown: detection recall per detector, score, max side, class and width; FP boxes."""
    widths = [name for name, _ in WIDTH_BINS]
    lines = [
        "| detector | score | max side | class | " + " | ".join(f"{w} px" for w in widths)
        + " | all | FP boxes |",
        "|---|---|---|---|" + "---|" * (len(widths) + 2),
    ]  # fmt: skip
    for (name, threshold, max_side), figures in rows.items():
        labels = [label for label in CLASSIFIER_LABELS if figures.recall(label) is not None]
        for i, label in enumerate(labels):
            cells = [_cell(figures, label, w) for w in (*widths, ALL_WIDTHS)]
            fp = str(figures.false_positives) if i == 0 else ""
            title = f"{CLASS_NAMES[label]} ({label})" if label in CLASS_NAMES else label
            head = f"| {name} | {threshold} | {max_side} | {title} | "
            lines.append(head + " | ".join(cells) + f" | {fp} |")
    return lines


def load_test_scenes(data_root: Path, split: Path, fixes: Path) -> FixedScenes:
    """The test split's scenes with the checked fixes applied."""
    samples = read_sources(data_root, DEFAULT_SOURCES)
    by_image = scene_samples(apply_split(samples, split)["test"])
    return apply_fixes(by_image, load_fixes(fixes), fixes)


def detector_report(
    detectors: dict[str, tuple[Path, float]],
    max_sides: list[int],
    scenes: FixedScenes,
    out: Path,
    score: float = 0.6,
    nms: float = 0.3,
) -> list[str]:
    """Run every detector (file, its score threshold) at every max side; write the table
    (Markdown) and the PR plots, whose dots mark ``score``."""
    rows, curves = {}, {label: {} for label in CLASS_NAMES}
    for name, (model, threshold) in detectors.items():
        for max_side in max_sides:
            detector = load_detector(model, max_side, nms)
            detections = run_detector(detector, sorted(scenes.faces))
            rows[name, threshold, max_side] = detection_figures(detections, scenes, threshold)
            for label in CLASS_NAMES:
                curves[label][f"{name}, max side {max_side}"] = precision_recall(
                    detections, scenes, label
                )
    lines = [
        "# Face detectors alone on the test scenes",
        "",
        "Made by `python -m maskwatch.train.detector_report` (`make detector-report`). Plots: "
        + ", ".join(f"`detector_pr_{label}.png`" for label in CLASS_NAMES)
        + ".",
        "",
        f"Detection recall at each detector's score threshold (NMS {nms}) on the test split "
        f"({len(scenes.faces)} photos, {scenes.ignored} ignore regions, "
        f"{scenes.relabelled} labels corrected); IoU >= 0.4; faces and boxes under 24 px "
        "count neither way.",
        "",
        *recall_table(rows),
    ]
    out.mkdir(parents=True, exist_ok=True)
    (out / "detector_report.md").write_text("\n".join(lines) + "\n")
    mark = int(np.abs(THRESHOLDS - score).argmin())
    for label, class_name in CLASS_NAMES.items():
        plot_precision_recall(
            curves[label],
            f"{class_name} faces ({label}), detector only\n"
            f"score {THRESHOLDS[0]}-{THRESHOLDS[-1]}, dot: {THRESHOLDS[mark]}",
            out / f"detector_pr_{label}.png",
            mark,
        )
    return lines


def _named_path(text: str) -> tuple[str, tuple[Path, float | None]]:
    """``NAME=PATH.onnx`` or ``NAME=PATH.onnx@SCORE`` (that detector's own threshold)."""
    name, sep, rest = text.partition("=")
    path, at, score = rest.rpartition("@") if "@" in rest else (rest, "", "")
    try:
        threshold = float(score) if at else None
    except ValueError:
        threshold = -1.0
    if not sep or not name or not path or (threshold is not None and not 0 < threshold < 1):
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=PATH.onnx or NAME=PATH@SCORE")
    return name, (Path(path), threshold)


def provenance_threshold(model: Path) -> float | None:
    """The score threshold a fine-tuned file's provenance (``PATH.json``) chose, if any."""
    provenance = model.with_suffix(".json")
    if not provenance.is_file():
        return None
    try:
        recorded = json.loads(provenance.read_text())
    except ValueError:
        recorded = None
    if isinstance(recorded, dict) and "score_threshold" not in recorded:
        return None  # some other file beside it: the table's --score applies
    threshold = recorded.get("score_threshold") if isinstance(recorded, dict) else None
    if not isinstance(threshold, int | float):
        raise DatasetError(
            f"{provenance}: no numeric score_threshold; fix or remove it, or give "
            "NAME=PATH.onnx@SCORE"
        )
    return threshold


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--detector",
        type=_named_path,
        action="append",
        required=True,
        metavar="NAME=PATH.onnx[@SCORE]",
        help="a YuNet-format ONNX file, optionally with its own score threshold (repeatable); "
        "without one, the threshold its PATH.json records, else --score",
    )
    parser.add_argument("--max-side", type=int, action="append", dest="max_sides",
                        help=f"longest side the frames are scaled to (repeatable; default "
                        f"{MAX_SIDES})")  # fmt: skip
    parser.add_argument("--score", type=float, default=0.6, help="score threshold of the table")
    parser.add_argument("--nms", type=float, default=0.3)
    parser.add_argument("--split", type=Path, default=Path("models/split.json"))
    parser.add_argument("--fixes", type=Path, default=DEFAULT_FIXES)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args(argv)
    if not SWEEP_SCORE <= args.score < 1:
        parser.error(f"--score {args.score}: must be from {SWEEP_SCORE} (the sweep's) up to 1")
    try:
        for _, (model, _) in args.detector:  # a bad file fails before the data is read
            load_detector(model, max(MAX_SIDES), args.nms)
        scenes = load_test_scenes(args.data_root, args.split, args.fixes)
        detectors = {
            name: (model, score or provenance_threshold(model) or args.score)
            for name, (model, score) in args.detector
        }
        lines = detector_report(detectors, args.max_sides or list(MAX_SIDES), scenes,
                                args.out, args.score, args.nms)  # fmt: skip
    except (DatasetError, MaskwatchError, OSError) as error:
        raise SystemExit(f"maskwatch.train.detector_report: error: {error}") from None
    print("\n".join(lines))


if __name__ == "__main__":
    main()
