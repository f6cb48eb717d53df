"""The scene evaluation's scoring rules, case by case, and the curves of the reports."""

from pathlib import Path

import numpy as np
import pytest

from edge.matching import match_greedy
from edge.pipeline import Face
from train.datasets import FaceSample
from train.evaluate import SceneTally
from train.reports import roc_pr


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
            predicted("mask", (0, 0, 40, 40)),  # TP mask
            predicted(
                "no_mask", (100, 0, 140, 40)
            ),  # mask face labelled no_mask: FP no_mask, FN mask
            predicted("no_mask", (300, 0, 340, 40)),  # nothing annotated here: FP no_mask
            predicted("mask", (400, 0, 420, 20)),  # on a face under 24 px: counts neither way
            predicted("mask", (500, 0, 540, 40)),  # on a mask_incorrect face: FP mask
        ],
        [
            annotated("mask", (0, 0, 40, 40)),
            annotated("mask", (100, 0, 140, 40)),
            annotated("no_mask", (200, 0, 240, 40)),  # missed: FN no_mask
            annotated("no_mask", (400, 0, 420, 20)),  # 20 px wide: ignored
            annotated("mask_incorrect", (500, 0, 540, 40)),
        ],
    )
    summary = tally.summary()
    mask, no_mask = summary["per_label"]["mask"], summary["per_label"]["no_mask"]
    assert (mask["tp"], mask["fp"], mask["fn"]) == (1, 1, 1)
    assert (no_mask["tp"], no_mask["fp"], no_mask["fn"]) == (0, 2, 1)
    assert mask["precision"] == 0.5 and mask["recall"] == 0.5 and mask["f1"] == 0.5
    detection = summary["detection_recall"]
    assert detection["mask"] == {"annotated": 2, "detected": 2, "recall": 1.0}
    assert detection["no_mask"] == {"annotated": 1, "detected": 0, "recall": 0.0}
    assert detection["mask_incorrect"]["recall"] == 1.0
    # The matched mask / no_mask faces feed the curves: both mask faces, none ignored.
    assert tally.matched_true == [0, 0]
    assert sorted(tally.matched_no_mask_probability) == pytest.approx([0.1, 0.9])


def test_roc_and_pr_of_perfect_and_reversed_scores():
    y = np.array([0, 0, 1, 1])
    perfect = roc_pr(y, np.array([0.1, 0.2, 0.8, 0.9]))
    assert perfect["roc_auc"] == 1.0 and perfect["average_precision"] == 1.0
    assert roc_pr(y, np.array([0.9, 0.8, 0.2, 0.1]))["roc_auc"] == 0.0
