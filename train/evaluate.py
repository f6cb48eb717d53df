"""Scene evaluation, as a user experiences it: ``python -m maskwatch.train.evaluate``.

The whole bundle (detector + classifier) runs on the held-out scenes of the saved
split, at each detector ``max_side`` asked for, and is scored twice: against the
annotations as published and with the checked fixes of ``models/test_annotation_fixes.toml``
(label corrections and ignore regions, see :mod:`maskwatch.train.annotation_fixes`).

The rule, per image. Predictions are matched one-to-one to the annotated faces and the
ignore regions together, greedily, highest IoU first: by IoU >= 0.4 (``iou``), or, for
sets whose annotators box the whole head (``tolerant``), also where one box lies at least
70% inside the other and covers at least 20% of it (a face box in a head box). A prediction matched
to an ignore region or to an annotated face narrower than 24 px counts neither way,
and so does an unmatched prediction narrower than 24 px; a wider unmatched prediction
is a false positive (a user would see it). For each label L in {mask, no_mask,
mask_incorrect}:
TP = annotated L matched by a prediction labelled L; FP = prediction labelled L not
matched to an annotated L; FN = annotated L not matched, or matched but labelled
otherwise. Per class and face width (24-48, 48-96, 96+ px): detection recall (found
among annotated) and matched-face accuracy (right label among found).

The alarm's view (:mod:`maskwatch.train.operating_point`), per set (the split asked for, with its
fixes, and each ``--external`` set, with the ``ignore_regions.json`` beside its
annotations), at the bundle's detector size: labels decided at ``--mask-min-score``,
scored under both matching rules; the curve over the operating point, bare-face
accuracy by width, pose and skin tone, and a sheet of the bare faces called mask.

Over 400 lines for now: the scene scoring and the alarm's per-set reports share one
matching pass; splitting the reports out is the next step (issue 22's follow-up).
"""

import argparse
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from maskwatch.core.bundle import Bundle, load_bundle
from maskwatch.core.errors import MaskwatchError
from maskwatch.core.images import read_image
from maskwatch.core.labels import CLASSIFIER_LABELS, DEFAULT_MASK_MIN_SCORE, NO_MASK
from maskwatch.core.matching import greedy_pairs, iou_matrix
from maskwatch.core.preprocess import Box
from maskwatch.train.annotation_fixes import FixedScenes, apply_fixes, load_fixes
from maskwatch.train.data import DEFAULT_SOURCES, read_sources
from maskwatch.train.datasets import DatasetError, FaceSample
from maskwatch.train.operating_point import (
    bare_called_mask_sheet,
    bare_face_breakdown,
    curve,
    lowest_safe_threshold,
    plot_curves,
    relabel,
)
from maskwatch.train.reports import (
    alarm_summary,
    classifier_report,
    scene_width_tables,
    write_json,
    write_summary,
)
from maskwatch.train.split import apply_split
from maskwatch.vision.pipeline import Face, MaskPipeline

MIN_IOU = 0.4
MIN_INSIDE = 0.7  # tolerant rule: share of the smaller box inside the larger
MIN_COVER = 0.2  # and the smaller box's area as a share of the larger's
IOU_RULE, TOLERANT_RULE = "iou", "tolerant"
MATCH_RULES = (TOLERANT_RULE, IOU_RULE)
MIN_WIDTH = 24
WIDTH_BINS = (("24-48", 48), ("48-96", 96), ("96+", None))  # name, upper bound (exclusive)
ALL_WIDTHS = "all"
MAX_SIDES = (320, 480, 640)
DEFAULT_FIXES = Path("models/test_annotation_fixes.toml")  # for the test split
AS_ANNOTATED, FIXED = "as published", "with fixes"
IGNORE_FILE = "ignore_regions.json"  # beside a set's annotations: {image name: [box, ...]}
DEFAULT_EXTERNAL = ("voc:external-macwin",)
CURVE_FILE = "operating_point_curve.png"


def width_bin(box: Box) -> str | None:
    """The face-width bin of a box; None under 24 px (such boxes count neither way)."""
    width = box[2] - box[0]
    if width < MIN_WIDTH:
        return None
    return next(name for name, upper in WIDTH_BINS if upper is None or width < upper)


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def f1_figures(tp: int, fp: int, fn: int) -> dict:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "tp": tp, "fp": fp, "fn": fn,
        "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
    }  # fmt: skip


@dataclass(frozen=True)
class SceneMatch:
    """One image under the rule: which prediction found each scored face, and which
    predictions are false positives (unmatched, 24 px wide or more)."""

    found: dict[int, int | None]  # annotated face (24 px or more) -> its prediction, or None
    false_positives: list[int]


def match_scores(predicted: list[Box], regions: list[Box], rule: str = IOU_RULE) -> np.ndarray:
    """(predicted, regions) IoU where a pair may match under ``rule``, else 0."""
    iou = iou_matrix(predicted, regions)
    allowed = iou >= MIN_IOU
    if rule == TOLERANT_RULE and iou.size:
        a = np.asarray(predicted, float)[:, None, :]
        b = np.asarray(regions, float)[None, :, :]
        width = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
        height = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
        inter = np.clip(width, 0, None) * np.clip(height, 0, None)
        area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
        area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
        smaller, larger = np.minimum(area_a, area_b), np.maximum(area_a, area_b)
        inside = inter / np.maximum(smaller, 1e-9) >= MIN_INSIDE
        allowed |= inside & (smaller / np.maximum(larger, 1e-9) >= MIN_COVER)
    return np.where(allowed, iou, 0.0)


def match_scene(
    predicted: list[Box], annotated: list[FaceSample], ignore: list[Box] = (), rule: str = IOU_RULE
) -> SceneMatch:
    """Match predictions to the annotated faces and the ignore regions together."""
    regions = [a.box for a in annotated] + list(ignore)
    matches = dict(greedy_pairs(match_scores(predicted, regions, rule), 1e-9))
    by_region = {g: p for p, g in matches.items()}
    found = {g: by_region.get(g) for g, face in enumerate(annotated) if width_bin(face.box)}
    unmatched = [p for p, box in enumerate(predicted) if p not in matches and width_bin(box)]
    return SceneMatch(found, unmatched)


@dataclass(frozen=True)
class MatchedFace:
    """An annotated face and the prediction matched to it."""

    image: Path
    annotated: FaceSample
    predicted: Face


@dataclass
class SceneTally:
    # (label, width bin) -> annotated, detected, correct (detected with the right label),
    # tp, fp, fn
    counts: dict[tuple[str, str], Counter] = field(default_factory=lambda: defaultdict(Counter))
    matched_true: list[int] = field(default_factory=list)  # for the matched faces' curves
    matched_predictions: list[Face] = field(default_factory=list)
    matched: list[MatchedFace] = field(default_factory=list)
    images: int = 0
    rule: str = IOU_RULE

    def add(
        self,
        predictions: list[Face],
        annotated: list[FaceSample],
        ignore: list[Box] = (),
        image: Path = Path(),
    ) -> None:
        """Score one image's predictions against its annotations and ignore regions."""
        self.images += 1
        scene = match_scene([p.box for p in predictions], annotated, ignore, self.rule)
        for g, p in scene.found.items():
            face = annotated[g]
            bin_name = width_bin(face.box)
            counts = self.counts[face.label, bin_name]
            counts["annotated"] += 1
            if p is None:
                counts["fn"] += 1
                continue
            prediction = predictions[p]
            counts["detected"] += 1
            if prediction.label == face.label:
                counts["correct"] += 1
                counts["tp"] += 1
            else:
                self.counts[prediction.label, bin_name]["fp"] += 1
                counts["fn"] += 1
            self.matched_true.append(CLASSIFIER_LABELS.index(face.label))
            self.matched_predictions.append(prediction)
            self.matched.append(MatchedFace(image, face, prediction))
        for p in scene.false_positives:
            self.counts[predictions[p].label, width_bin(predictions[p].box)]["fp"] += 1

    def _total(self, label: str, bin_name: str) -> Counter:
        if bin_name != ALL_WIDTHS:
            return self.counts[label, bin_name]
        return sum((self.counts[label, name] for name, _ in WIDTH_BINS), Counter())

    def _class_figures(self, label: str, bin_name: str) -> dict:
        counts = self._total(label, bin_name)
        return {
            "annotated": counts["annotated"],
            "detected": counts["detected"],
            "detection_recall": _ratio(counts["detected"], counts["annotated"]),
            "accuracy": _ratio(counts["correct"], counts["detected"]),
            **f1_figures(counts["tp"], counts["fp"], counts["fn"]),
        }

    def summary(self) -> dict:
        per_label = {
            label: f1_figures(*(self._total(label, ALL_WIDTHS)[k] for k in ("tp", "fp", "fn")))
            for label in CLASSIFIER_LABELS
        }
        detection = {}
        for label in CLASSIFIER_LABELS:
            counts = self._total(label, ALL_WIDTHS)
            detection[label] = {
                "annotated": counts["annotated"],
                "detected": counts["detected"],
                "recall": _ratio(counts["detected"], counts["annotated"]),
            }
        per_class = {
            label: {
                name: self._class_figures(label, name)
                for name in (*(name for name, _ in WIDTH_BINS), ALL_WIDTHS)
            }
            for label in CLASSIFIER_LABELS
        }
        return {
            "images": self.images,
            "per_label": per_label,
            "detection_recall": detection,
            "per_class": per_class,
        }


def scene_samples(samples: list[FaceSample]) -> dict[Path, list[FaceSample]]:
    """Annotated faces grouped by image, for sources with boxes (not whole-image crops)."""
    by_image: dict[Path, list[FaceSample]] = defaultdict(list)
    for sample in samples:
        if sample.box is not None:
            by_image[sample.image].append(sample)
    return by_image


def predict_scenes(
    pipeline: MaskPipeline, images: list[Path]
) -> tuple[dict[Path, list[Face]], float]:
    """The pipeline's faces for every image, and the seconds it took per image."""
    started = time.monotonic()
    predictions = {image: pipeline.process(read_image(image)) for image in images}
    return predictions, (time.monotonic() - started) / max(len(images), 1)


def score_scenes(
    predictions: dict[Path, list[Face]],
    by_image: dict[Path, list[FaceSample]],
    ignore: dict[Path, list[Box]] | None = None,
    rule: str = IOU_RULE,
) -> SceneTally:
    tally = SceneTally(rule=rule)
    for image, annotated in sorted(by_image.items()):
        tally.add(predictions[image], annotated, (ignore or {}).get(image, []), image)
    return tally


def label_probabilities(faces: list[Face]) -> np.ndarray:
    """(N, labels) from each face's label and score: the score on its label, the rest
    shared evenly by the other labels (a face carries only its winning probability)."""
    others = len(CLASSIFIER_LABELS) - 1
    rows = np.zeros((len(faces), len(CLASSIFIER_LABELS)))
    for row, face in zip(rows, faces, strict=True):
        row[:] = (1.0 - face.score) / others
        row[CLASSIFIER_LABELS.index(face.label)] = face.score
    return rows


def matched_faces_report(tally: SceneTally, out: Path) -> dict:
    """The classifier's figures on the faces the detector found, with their plots."""
    probabilities = label_probabilities(tally.matched_predictions)
    return classifier_report(
        np.asarray(tally.matched_true), probabilities, "scene_matched_faces", out
    )


def evaluate_scenes(
    pipeline: MaskPipeline,
    by_image: dict[Path, list[FaceSample]],
    out: Path | None = None,
    ignore: dict[Path, list[Box]] | None = None,
) -> dict:
    """Run the bundle over every image and score it; plots go to ``out`` when given."""
    predictions, seconds = predict_scenes(pipeline, sorted(by_image))
    tally = score_scenes(predictions, by_image, ignore)
    summary = tally.summary()
    summary["seconds_per_image"] = round(seconds, 4)
    if out is not None and tally.matched_true:
        summary["matched_faces"] = matched_faces_report(tally, out)
    return summary


def evaluate_settings(
    bundle: Bundle,
    max_sides: list[int],
    by_image: dict[Path, list[FaceSample]],
    fixed: FixedScenes | None,
) -> tuple[list[dict], dict[tuple[int, str], SceneTally], dict[int, dict[Path, list[Face]]]]:
    """One run per detector max side, scored as published and, given ``fixed``, with fixes;
    also the predictions per max side."""
    runs, tallies, by_side = [], {}, {}
    for max_side in max_sides:
        pipeline = MaskPipeline(bundle, detector_max_side=max_side)
        predictions, seconds = predict_scenes(pipeline, sorted(by_image))
        by_side[max_side] = predictions
        scorings = [(AS_ANNOTATED, by_image, None)]
        if fixed:
            scorings.append((FIXED, fixed.faces, fixed.ignore))
        for name, faces, ignore in scorings:
            tally = tallies[max_side, name] = score_scenes(predictions, faces, ignore)
            runs.append({"max_side": max_side, "annotations": name,
                         "seconds_per_image": round(seconds, 4), **tally.summary()})  # fmt: skip
    return runs, tallies, by_side


@dataclass(frozen=True)
class ScoredSet:
    """An evaluation set: annotated faces per image and the regions that count neither way."""

    name: str
    faces: dict[Path, list[FaceSample]]
    ignore: dict[Path, list[Box]]


def read_ignore_regions(root: Path, images: list[Path]) -> dict[Path, list[Box]]:
    """The set's ``ignore_regions.json`` (none if absent), keyed by the images it names."""
    path = root / IGNORE_FILE
    if not path.is_file():
        return {}
    try:
        table = json.loads(path.read_text())
        by_name = {image.name: image for image in images}
        return {
            by_name[name]: [tuple(int(v) for v in box) for box in boxes]
            for name, boxes in table.items()
            if name in by_name
        }
    except (ValueError, TypeError, AttributeError) as error:
        raise DatasetError(
            f"{path}: expected {{image: [[x1, y1, x2, y2], ...]}} ({error})"
        ) from None


def external_set(data_root: Path, source: str) -> ScoredSet:
    """A whole external set (``KIND:PATH``): every annotated image, its ignore regions."""
    faces = scene_samples(read_sources(data_root, [source]))
    root = data_root / source.partition(":")[2]
    return ScoredSet(root.name, faces, read_ignore_regions(root, list(faces)))


def matched_confusion(tally: SceneTally) -> list[list[int]]:
    """Matched faces, rows annotated, columns predicted, in :data:`CLASSIFIER_LABELS` order."""
    confusion = np.zeros((len(CLASSIFIER_LABELS),) * 2, int)
    for m in tally.matched:
        confusion[CLASSIFIER_LABELS.index(m.annotated.label)][
            CLASSIFIER_LABELS.index(m.predicted.label)
        ] += 1
    return confusion.tolist()


def alarm_evaluation(
    scored: ScoredSet,
    predictions: dict[Path, list[Face]],
    labels: tuple[str, ...],
    mask_min_score: float,
    out: Path,
) -> dict:
    """One set seen by the alarm at the operating point: both matching rules, the curve,
    bare-face accuracy by width, pose and skin tone, the sheet of bare faces called mask."""
    decided = {
        image: relabel(faces, labels, mask_min_score) for image, faces in predictions.items()
    }
    result: dict = {
        "images": len(scored.faces),
        "ignore_regions": sum(len(boxes) for boxes in scored.ignore.values()),
        "mask_min_score": mask_min_score,
    }
    for rule in MATCH_RULES:
        tally = score_scenes(decided, scored.faces, scored.ignore, rule)
        summary = tally.summary()
        result[rule] = {key: summary[key] for key in ("detection_recall", "per_label", "per_class")}
        result[rule]["confusion"] = matched_confusion(tally)
    tally = score_scenes(predictions, scored.faces, scored.ignore, TOLERANT_RULE)
    result["curve"] = curve(
        [m.annotated.label for m in tally.matched], [m.predicted for m in tally.matched], labels
    )
    bare = [(m.image, m.predicted) for m in tally.matched if m.annotated.label == NO_MASK]
    result["bare_faces"] = bare_face_breakdown(bare, labels, mask_min_score)
    sheet = f"bare_called_mask_{scored.name}.png"
    result["bare_called_mask_sheet"] = {
        "file": sheet,
        "faces": bare_called_mask_sheet(bare, labels, mask_min_score, out / sheet),
    }
    return result


def alarm_sets(
    sets: list[ScoredSet],
    predictions: dict[str, dict[Path, list[Face]]],
    labels: tuple[str, ...],
    mask_min_score: float,
    out: Path,
) -> dict:
    """Every set's :func:`alarm_evaluation`, their curves in one plot, and the lowest
    operating point that meets the bare-face target on all of them."""
    results = {
        s.name: alarm_evaluation(s, predictions[s.name], labels, mask_min_score, out) for s in sets
    }
    curves = {name: result["curve"] for name, result in results.items()}
    plot_curves(curves, mask_min_score, "the alarm's operating point (tolerant matching)",
                out / CURVE_FILE)  # fmt: skip
    return {
        "mask_min_score": mask_min_score,
        "lowest_threshold_meeting_bare_target": lowest_safe_threshold(list(curves.values())),
        "curve_plot": CURVE_FILE,
        "sets": results,
    }


def main(argv: list[str] | None = None) -> None:
    try:
        _main(argv)
    except (DatasetError, MaskwatchError, OSError) as error:
        raise SystemExit(f"maskwatch.train.evaluate: error: {error}") from None


def _main(argv: list[str] | None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path("bundle"))
    parser.add_argument("--split", type=Path, default=Path("models/split.json"))
    parser.add_argument("--data-root", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--source", action="append", dest="sources", help="KIND:PATH")
    parser.add_argument("--which", default="test", choices=("train", "val", "test"))
    parser.add_argument(
        "--fixes", type=Path, help=f"annotation fixes (default for the test split: {DEFAULT_FIXES})"
    )
    parser.add_argument("--no-fixes", action="store_true", help="score as annotated only")
    parser.add_argument(
        "--max-side", type=int, action="append", dest="max_sides",
        help=f"detector max side to evaluate at (repeatable; default {MAX_SIDES} and the "
        "bundle's own)",
    )  # fmt: skip
    parser.add_argument(
        "--external", action="append", metavar="KIND:PATH",
        help=f"a whole set scored for the alarm beside the split (repeatable; default "
        f"{' '.join(DEFAULT_EXTERNAL)})",
    )  # fmt: skip
    parser.add_argument(
        "--mask-min-score", type=float, default=DEFAULT_MASK_MIN_SCORE,
        help="the operating point: mask only at P(mask) >= this (pipeline.mask_min_score)",
    )  # fmt: skip
    parser.add_argument("--metrics", type=Path, help="training metrics, for summary.md")
    parser.add_argument("--int8-report", type=Path, help="int8 crop report, for summary.md")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)

    samples = read_sources(args.data_root, args.sources or DEFAULT_SOURCES)
    by_image = scene_samples(apply_split(samples, args.split)[args.which])
    fixes = args.fixes or (DEFAULT_FIXES if args.which == "test" else None)
    fixed = None
    if fixes and not args.no_fixes:
        fixed = apply_fixes(by_image, load_fixes(fixes), fixes)
    bundle = load_bundle(args.bundle)
    shipped = bundle.manifest.detector.max_side
    max_sides = sorted({*(args.max_sides or MAX_SIDES), shipped})
    runs, tallies, by_side = evaluate_settings(bundle, max_sides, by_image, fixed)
    headline = FIXED if fixed else AS_ANNOTATED
    summary = next(r for r in runs if r["max_side"] == shipped and r["annotations"] == headline)
    summary = {**summary, "runs": runs}
    if fixed:
        summary["annotation_fixes"] = {
            "file": str(fixes), "ignore_regions": fixed.ignored, "relabelled": fixed.relabelled
        }  # fmt: skip
    summary["matched_faces"] = matched_faces_report(tallies[shipped, headline], args.out)
    write_json(summary, args.out / "scene_evaluation.json")
    split_set = ScoredSet(args.which, fixed.faces, fixed.ignore) if fixed else ScoredSet(
        args.which, by_image, {}
    )  # fmt: skip
    externals = [external_set(args.data_root, s) for s in args.external or DEFAULT_EXTERNAL]
    pipeline = MaskPipeline(bundle)
    predictions = {args.which: by_side[shipped]}
    for scored in externals:
        predictions[scored.name] = predict_scenes(pipeline, sorted(scored.faces))[0]
    labels = tuple(bundle.manifest.classifier.labels)
    alarm = alarm_sets([split_set, *externals], predictions, labels, args.mask_min_score, args.out)
    write_json(alarm, args.out / "alarm_evaluation.json")
    alarm_lines = alarm_summary(alarm)
    if args.metrics and args.int8_report:
        metrics, int8 = (json.loads(p.read_text()) for p in (args.metrics, args.int8_report))
        write_summary(metrics, int8, summary, args.out / "summary.md", alarm_lines)
    else:
        (args.out / "summary.md").write_text("\n".join(alarm_lines) + "\n")
    print("\n".join(scene_width_tables(runs)))
    print("\n".join(alarm_lines))


if __name__ == "__main__":
    main()
