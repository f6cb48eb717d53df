"""The scene evaluation's scoring rules, case by case, and the curves of the reports."""

from pathlib import Path

import numpy as np
import pytest

from maskwatch.core.bundle import load_bundle
from maskwatch.core.matching import match_greedy
from maskwatch.train.annotation_fixes import apply_fixes, load_fixes
from maskwatch.train.data import DEFAULT_SOURCES, read_sources
from maskwatch.train.datasets import DatasetError, FaceSample
from maskwatch.train.evaluate import (
    DEFAULT_FIXES,
    SceneTally,
    label_probabilities,
    predict_scenes,
    scene_samples,
    score_scenes,
    width_bin,
)
from maskwatch.train.reports import roc_pr
from maskwatch.train.split import apply_split
from maskwatch.vision.pipeline import Face, MaskPipeline
from tests.conftest import ROOT, SPLIT


def annotated(label, box):
    return FaceSample(Path("x.jpg"), box, label, "s/x", "s")


def predicted(label, box, score=0.9):
    return Face(box, label, score, 0.9)


def test_matching_is_one_to_one_best_iou_first():
    predictions = [(0, 0, 10, 10), (1, 1, 11, 11)]
    annotations = [(1, 1, 11, 11)]
    assert match_greedy(predictions, annotations, 0.4) == [(1, 0)]
    assert match_greedy([(0, 0, 10, 10)], [(20, 20, 30, 30)], 0.4) == []


def test_each_rule_of_the_scene_score():
    tally = SceneTally()
    tally.add(
        [
            predicted("mask", (0, 0, 40, 40)),  # TP mask, 24-48 px
            predicted("no_mask", (100, 0, 160, 60)),  # mask face labelled no_mask: FP + FN
            predicted("no_mask", (205, 5, 300, 100)),  # TP no_mask, 96+ px
            predicted("mask", (400, 0, 420, 20)),  # on a face under 24 px: counts neither way
            predicted("mask", (500, 0, 540, 40)),  # on a mask_incorrect face: FP mask + FN
            predicted("mask", (700, 0, 740, 40)),  # on an ignore region: counts neither way
            predicted("no_mask", (800, 0, 820, 20)),  # unmatched, under 24 px: neither way
            predicted("no_mask", (900, 0, 930, 30)),  # unmatched, 30 px: FP no_mask, 24-48
            predicted("mask", (1000, 0, 1100, 100)),  # unmatched, 100 px: FP mask, 96+
        ],
        [
            annotated("mask", (0, 0, 40, 40)),
            annotated("mask", (100, 0, 160, 60)),
            annotated("no_mask", (200, 0, 300, 100)),
            annotated("no_mask", (400, 0, 420, 20)),  # 20 px wide: ignored
            annotated("mask_incorrect", (500, 0, 540, 40)),
            annotated("no_mask", (600, 0, 630, 30)),  # missed: FN no_mask, 24-48
        ],
        ignore=[(700, 0, 740, 40)],
    )
    summary = tally.summary()
    mask, no_mask = summary["per_label"]["mask"], summary["per_label"]["no_mask"]
    assert (mask["tp"], mask["fp"], mask["fn"]) == (1, 2, 1)
    assert (no_mask["tp"], no_mask["fp"], no_mask["fn"]) == (1, 2, 1)
    assert mask["precision"] == 0.3333 and mask["recall"] == 0.5
    assert mask["f1"] == pytest.approx(0.4)
    detection = summary["detection_recall"]
    assert detection["mask"] == {"annotated": 2, "detected": 2, "recall": 1.0}
    assert detection["no_mask"] == {"annotated": 2, "detected": 1, "recall": 0.5}
    assert detection["mask_incorrect"] == {"annotated": 1, "detected": 1, "recall": 1.0}
    wrongly = summary["per_label"]["mask_incorrect"]
    assert (wrongly["tp"], wrongly["fp"], wrongly["fn"]) == (0, 0, 1)
    # The matched faces feed the curves: none on the ignored face or region. Each carries
    # its label's score; the rest is shared by the two other labels.
    assert tally.matched_true == [0, 0, 1, 2]
    probabilities = label_probabilities(tally.matched_predictions)
    assert probabilities.argmax(axis=1).tolist() == [0, 1, 1, 0]
    assert probabilities[:, 1] == pytest.approx([0.05, 0.9, 0.9, 0.05])
    assert probabilities.sum(axis=1) == pytest.approx([1.0] * 4)


def test_per_class_figures_by_face_width():
    tally = SceneTally()
    tally.add(
        [
            predicted("mask", (0, 0, 40, 40)),
            predicted("no_mask", (100, 0, 160, 60)),  # right place, wrong label
            predicted("no_mask", (205, 5, 300, 100)),
            predicted("no_mask", (900, 0, 930, 30)),  # unmatched: FP in its own width
            predicted("mask", (1000, 0, 1100, 100)),  # unmatched, 96+ px
        ],
        [
            annotated("mask", (0, 0, 40, 40)),
            annotated("mask", (100, 0, 160, 60)),
            annotated("no_mask", (200, 0, 300, 100)),
            annotated("no_mask", (600, 0, 630, 30)),
        ],
    )
    mask = tally.summary()["per_class"]["mask"]
    assert _figures(mask["24-48"]) == (1, 1, 1.0, 1.0, 1, 0, 0)
    assert _figures(mask["48-96"]) == (1, 1, 1.0, 0.0, 0, 0, 1)
    assert _figures(mask["96+"]) == (0, 0, None, None, 0, 1, 0)
    assert _figures(mask["all"]) == (2, 2, 1.0, 0.5, 1, 1, 1)
    no_mask = tally.summary()["per_class"]["no_mask"]
    assert _figures(no_mask["24-48"]) == (1, 0, 0.0, None, 0, 1, 1)
    assert _figures(no_mask["48-96"]) == (0, 0, None, None, 0, 1, 0)
    assert _figures(no_mask["96+"]) == (1, 1, 1.0, 1.0, 1, 0, 0)
    assert _figures(no_mask["all"]) == (2, 1, 0.5, 1.0, 1, 2, 1)
    assert no_mask["all"]["f1"] == pytest.approx(0.4)
    assert tally.summary()["per_class"]["mask_incorrect"]["all"]["accuracy"] is None


def _figures(f: dict) -> tuple:
    keys = ("annotated", "detected", "detection_recall", "accuracy", "tp", "fp", "fn")
    return tuple(f[k] for k in keys)


def test_width_bins_and_their_edges():
    assert [width_bin((0, 0, w, 10)) for w in (23, 24, 47, 48, 95, 96, 500)] == [
        None, "24-48", "24-48", "48-96", "48-96", "96+", "96+"
    ]  # fmt: skip


FIXES = """
[[fix]]
scene = "s/x"
box = [0, 0, 40, 40]
kind = "relabel"
label = "no_mask"
reason = "no mask in sight"

[[fix]]
scene = "s/x"
box = [700, 0, 740, 40]
kind = "ignore"
reason = "a face the annotators left out"
"""


def test_fixes_relabel_a_face_and_add_ignore_regions(tmp_path):
    path = tmp_path / "fixes.toml"
    path.write_text(FIXES)
    by_image = {
        Path("x.jpg"): [annotated("mask", (0, 0, 40, 40)), annotated("mask", (50, 0, 90, 40))]
    }
    fixed = apply_fixes(by_image, load_fixes(path), path)
    assert [f.label for f in fixed.faces[Path("x.jpg")]] == ["no_mask", "mask"]
    assert [f.label for f in by_image[Path("x.jpg")]] == ["mask", "mask"]  # left as it was
    assert fixed.ignore == {Path("x.jpg"): [(700, 0, 740, 40)]}
    assert (fixed.ignored, fixed.relabelled) == (1, 1)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('kind = "ignore"', 'kind = "drop"'), "kind 'drop'"),
        (('label = "no_mask"', 'label = "nomask"'), "a relabel needs one of"),
        (('reason = "no mask in sight"', 'reason = " "'), "needs a scene id and a reason"),
        (("box = [0, 0, 40, 40]", "box = [40, 0, 0, 40]"), "box must be"),
        (
            ("box = [0, 0, 40, 40]", "box = [1, 0, 40, 40]"),
            r"no annotated face at \[1, 0, 40, 40\]",
        ),
        (('scene = "s/x"', 'scene = "s/y"'), "scene 's/y' is not among"),
        (("[[fix]]", "[[fix]"), "not valid TOML"),
    ],
)
def test_a_bad_fix_is_named(tmp_path, change, message):
    path = tmp_path / "fixes.toml"
    path.write_text(FIXES.replace(*change, 1))
    by_image = {Path("x.jpg"): [annotated("mask", (0, 0, 40, 40))]}
    with pytest.raises(DatasetError, match=message):
        apply_fixes(by_image, load_fixes(path), path)


def test_the_committed_fixes_take_false_positives_off_real_scenes(data_root, bundle_dir):
    """Three real test scenes with the most ignore regions, through the real bundle."""
    by_image = scene_samples(apply_split(read_sources(data_root, DEFAULT_SOURCES), SPLIT)["test"])
    fixed = apply_fixes(by_image, load_fixes(ROOT / DEFAULT_FIXES), DEFAULT_FIXES)
    busiest = sorted(fixed.ignore, key=lambda image: -len(fixed.ignore[image]))[:3]
    scenes = {image: by_image[image] for image in busiest}
    pipeline = MaskPipeline(load_bundle(bundle_dir), detector_max_side=1280)
    assert pipeline.detector.info.max_side == 1280
    predictions, _ = predict_scenes(pipeline, busiest)
    before = score_scenes(predictions, scenes).summary()
    after = score_scenes(predictions, scenes, fixed.ignore).summary()
    fp = [
        sum(s["per_label"][label]["fp"] for label in ("mask", "no_mask")) for s in (before, after)
    ]
    assert fp[1] < fp[0]
    assert after["detection_recall"] == before["detection_recall"]
    assert sum(f["tp"] for f in after["per_label"].values()) > 0


def test_roc_and_pr_of_perfect_and_reversed_scores():
    y = np.array([0, 0, 1, 1])
    perfect = roc_pr(y, np.array([0.1, 0.2, 0.8, 0.9]))
    assert perfect["roc_auc"] == 1.0 and perfect["average_precision"] == 1.0
    assert roc_pr(y, np.array([0.9, 0.8, 0.2, 0.1]))["roc_auc"] == 0.0
