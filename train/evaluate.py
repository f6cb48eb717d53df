"""Scene evaluation, as a user experiences it: ``python -m train.evaluate``.

The whole bundle (detector + classifier) runs on the held-out scenes of the saved
split. Per image, predictions are matched to annotated faces greedily by IoU >= 0.4,
highest first. Annotated faces narrower than 24 px are ignored: a prediction matched
to one counts neither way. For each label L in {mask, no_mask}: TP = annotated L
matched by a prediction labelled L; FP = prediction labelled L not matched to an
annotated L; FN = annotated L not matched, or matched but labelled otherwise.
"""

import argparse
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.errors import MaskwatchError
from edge.images import read_image
from edge.labels import CLASSIFIER_LABELS, MASK_INCORRECT, NO_MASK
from edge.matching import match_greedy
from edge.pipeline import Face, MaskPipeline
from train.data import DEFAULT_SOURCES, read_sources
from train.datasets import DatasetError, FaceSample
from train.reports import classifier_report, write_json, write_summary
from train.split import apply_split

MIN_IOU = 0.4
MIN_WIDTH = 24
ANNOTATED_LABELS = (*CLASSIFIER_LABELS, MASK_INCORRECT)


def _ignored(face: FaceSample) -> bool:
    """Annotated faces narrower than 24 px count neither way."""
    return face.box[2] - face.box[0] < MIN_WIDTH


@dataclass
class SceneTally:
    tp: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    fp: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    fn: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    annotated: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    detected: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    matched_true: list[int] = field(default_factory=list)  # for the matched faces' curves
    matched_no_mask_probability: list[float] = field(default_factory=list)
    images: int = 0

    def add(self, predictions: list[Face], annotated: list[FaceSample]) -> None:
        """Score one image's predictions against its annotations."""
        self.images += 1
        matches = dict(
            match_greedy([p.box for p in predictions], [a.box for a in annotated], MIN_IOU)
        )
        matched_annotations = set(matches.values())
        for g, face in enumerate(annotated):
            if _ignored(face):
                continue
            self.annotated[face.label] += 1
            self.detected[face.label] += g in matched_annotations
            if face.label in CLASSIFIER_LABELS and g not in matched_annotations:
                self.fn[face.label] += 1
        for p, prediction in enumerate(predictions):
            g = matches.get(p)
            if g is not None and _ignored(annotated[g]):
                continue
            truth = annotated[g].label if g is not None else None
            if truth == prediction.label:
                self.tp[truth] += 1
                continue
            self.fp[prediction.label] += 1
            if truth in CLASSIFIER_LABELS:  # found, but labelled otherwise
                self.fn[truth] += 1
        for p, g in matches.items():
            truth, prediction = annotated[g], predictions[p]
            if truth.label in CLASSIFIER_LABELS and not _ignored(truth):
                self.matched_true.append(CLASSIFIER_LABELS.index(truth.label))
                no_mask = prediction.score if prediction.label == NO_MASK else 1 - prediction.score
                self.matched_no_mask_probability.append(no_mask)

    def summary(self) -> dict:
        per_label = {}
        for label in CLASSIFIER_LABELS:
            tp, fp, fn = self.tp[label], self.fp[label], self.fn[label]
            precision = tp / (tp + fp) if tp + fp else 0.0
            recall = tp / (tp + fn) if tp + fn else 0.0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            per_label[label] = {
                "tp": tp, "fp": fp, "fn": fn,
                "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            }  # fmt: skip
        detection = {
            label: {
                "annotated": self.annotated[label],
                "detected": self.detected[label],
                "recall": round(self.detected[label] / self.annotated[label], 4)
                if self.annotated[label]
                else None,
            }
            for label in ANNOTATED_LABELS
        }
        return {"images": self.images, "per_label": per_label, "detection_recall": detection}


def scene_samples(samples: list[FaceSample]) -> dict[Path, list[FaceSample]]:
    """Annotated faces grouped by image, for sources with boxes (not whole-image crops)."""
    by_image: dict[Path, list[FaceSample]] = defaultdict(list)
    for sample in samples:
        if sample.box is not None:
            by_image[sample.image].append(sample)
    return by_image


def evaluate_scenes(
    pipeline: MaskPipeline, by_image: dict[Path, list[FaceSample]], out: Path | None = None
) -> dict:
    """Run the bundle over every image and score it; plots go to ``out`` when given."""
    tally = SceneTally()
    started = time.monotonic()
    for image_path, annotated in sorted(by_image.items()):
        tally.add(pipeline.process(read_image(image_path)), annotated)
    summary = tally.summary()
    summary["seconds_per_image"] = round((time.monotonic() - started) / max(tally.images, 1), 4)
    if out is not None and tally.matched_true:
        probabilities = np.asarray(tally.matched_no_mask_probability)
        two_class = np.stack([1 - probabilities, probabilities], axis=1)
        summary["matched_faces"] = classifier_report(
            np.asarray(tally.matched_true), two_class, "scene_matched_faces", out
        )
    return summary


def main(argv: list[str] | None = None) -> None:
    try:
        _main(argv)
    except (DatasetError, MaskwatchError, OSError) as error:
        raise SystemExit(f"train.evaluate: error: {error}") from None


def _main(argv: list[str] | None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path("bundle"))
    parser.add_argument("--split", type=Path, default=Path("models/split.json"))
    parser.add_argument("--data-root", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--source", action="append", dest="sources", help="KIND:PATH")
    parser.add_argument("--which", default="test", choices=("train", "val", "test"))
    parser.add_argument("--metrics", type=Path, help="training metrics, for summary.md")
    parser.add_argument("--int8-report", type=Path, help="int8 crop report, for summary.md")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)

    samples = read_sources(args.data_root, args.sources or DEFAULT_SOURCES)
    by_image = scene_samples(apply_split(samples, args.split)[args.which])
    summary = evaluate_scenes(MaskPipeline.from_bundle_dir(args.bundle), by_image, args.out)
    write_json(summary, args.out / "scene_evaluation.json")
    if args.metrics and args.int8_report:
        metrics, int8 = (json.loads(p.read_text()) for p in (args.metrics, args.int8_report))
        write_summary(metrics, int8, summary, args.out / "summary.md")
    for label, figures in summary["per_label"].items():
        recall = summary["detection_recall"][label]["recall"]
        print(f"{label:8s} F1 {figures['f1']:.3f} (P {figures['precision']:.3f} "
              f"R {figures['recall']:.3f}), detection recall {recall:.3f}")  # fmt: skip
    print(f"{summary['images']} images, {summary['seconds_per_image'] * 1000:.0f} ms per image")


if __name__ == "__main__":
    main()
