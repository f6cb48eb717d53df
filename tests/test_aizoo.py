"""AIZOO's mask detector as the benchmark runs it: the anchor layout, the decoding on
made-up outputs, and the whole pipeline on external-macwin against the figures
../shared/models/README.md gives for it."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from maskwatch.core.matching import greedy_pairs, iou_matrix
from maskwatch.train.datasets import read_voc_scenes
from tests.conftest import ROOT
from workbench import aizoo_pipeline
from workbench.aizoo_pipeline import AizooPipeline, anchors, decode_boxes, detections, nms

MODELS = ROOT.parent / "shared" / "models" / "aizoo"


def test_anchors_are_five_maps_of_four_per_cell_row_by_row():
    priors = anchors()
    assert priors.shape == ((33**2 + 17**2 + 9**2 + 5**2 + 3**2) * 4, 4) == (5972, 4)
    # First cell of the 33 map: its two sizes square, then the first size at 0.62, 0.42.
    first = priors[:4]
    assert np.allclose(first[:, :2], 0.5 / 33)
    assert np.allclose(first[:2, 2:], [[0.04, 0.04], [0.056, 0.056]])
    assert np.allclose(first[2, 2:], [0.04 * np.sqrt(0.62), 0.04 / np.sqrt(0.62)])
    assert np.allclose(first[3, 2:], [0.04 * np.sqrt(0.42), 0.04 / np.sqrt(0.42)])
    # Cells run along x first: the second cell is one step right, same row.
    assert np.allclose(priors[4, :2], [1.5 / 33, 0.5 / 33])
    assert np.allclose(priors[33 * 4, :2], [0.5 / 33, 1.5 / 33])
    # The last map (3x3) starts after the four others; its last cell is the bottom right.
    start = (33**2 + 17**2 + 9**2 + 5**2) * 4
    assert np.allclose(priors[start, :], [0.5 / 3, 0.5 / 3, 0.64, 0.64])
    assert np.allclose(priors[-1, :2], [2.5 / 3, 2.5 / 3])
    assert np.allclose(priors[-1, 2:], [0.64 * np.sqrt(0.42), 0.64 / np.sqrt(0.42)])


def test_decoding_moves_by_variance_times_anchor_size():
    prior = np.array([[0.5, 0.5, 0.2, 0.1]])
    assert np.allclose(decode_boxes(np.zeros((1, 4)), prior), [[0.4, 0.45, 0.6, 0.55]])
    moved = decode_boxes(np.array([[1.0, -2.0, np.log(2) / 0.2, 0.0]]), prior)
    # centre x + 1 * 0.1 * 0.2, centre y - 2 * 0.1 * 0.1; width doubled
    assert np.allclose(moved, [[0.32, 0.43, 0.72, 0.53]])


def test_detections_keep_the_top_class_over_half_and_suppress_overlaps():
    priors = np.array([[0.5, 0.5, 0.2, 0.2], [0.51, 0.5, 0.2, 0.2], [0.1, 0.1, 0.1, 0.1],
                       [0.8, 0.8, 0.1, 0.1]])  # fmt: skip
    scores = np.array([[0.3, 0.7], [0.8, 0.2], [0.55, 0.45], [0.51, 0.49]])
    scores[3] = [0.49, 0.49]  # under 0.5 for both classes: dropped
    found = detections(np.zeros((4, 4)), scores, priors)
    # The two overlapping boxes (IoU 0.9) leave the better one, mask at 0.8.
    assert [(cls, round(score, 2)) for *_, cls, score in found] == [(0, 0.8), (0, 0.55)]
    assert np.allclose(found[0][:4], [0.41, 0.4, 0.61, 0.6])
    boxes = np.array([[0, 0, 1, 1], [0, 0.5, 1, 1.5], [0, 0.55, 1, 1.55]], float)
    # IoU 1/3 between the first two (kept, under 0.4), 0.9 between the last two.
    assert nms(boxes, np.array([0.9, 0.8, 0.7])) == [0, 1]


def test_wrong_model_files_are_one_line_errors(tmp_path):
    with pytest.raises(SystemExit, match="missing: .*caffemodel"):
        AizooPipeline(tmp_path)
    for name in aizoo_pipeline.FILES:
        (tmp_path / name).write_bytes(b"not a model")
    with pytest.raises(SystemExit, match="sha256 is not the README's"):
        AizooPipeline(tmp_path)


# ---------------------------------------------------------------------------------------
# external-macwin, scored as the README scores it: its annotators box the whole head, so a
# prediction matches a face at IoU >= 0.4, or when one box is >= 70% inside the other and
# covers >= 20% of it; predictions on its ignore regions count neither way.


def tolerant_scores(predicted: list, annotated: list) -> np.ndarray:
    """IoU of each (prediction, face) pair that matches under the rule above, else -1."""
    iou = iou_matrix(predicted, annotated)
    if not iou.size:
        return iou
    a, b = np.asarray(predicted, float)[:, None, :], np.asarray(annotated, float)[None, :, :]
    inter = np.prod(np.clip(np.minimum(a[..., 2:], b[..., 2:]) - np.maximum(a[..., :2], b[..., :2]),
                            0, None), axis=-1)  # fmt: skip
    in_a = inter / np.prod(a[..., 2:] - a[..., :2], axis=-1)
    in_b = inter / np.prod(b[..., 2:] - b[..., :2], axis=-1)
    inside = ((in_a >= 0.7) & (in_b >= 0.2)) | ((in_b >= 0.7) & (in_a >= 0.2))
    return np.where((iou >= 0.4) | inside, iou, -1.0)


def macwin_scenes(root: Path) -> dict[Path, list]:
    scenes: dict[Path, list] = {}
    for face in read_voc_scenes(root, "external-macwin"):
        scenes.setdefault(face.image, []).append((face.box, face.label))
    return scenes


def macwin_figures(pipeline: AizooPipeline, root: Path) -> dict[str, float]:
    """Found and labelled figures per class, and F1 per label, over every scene."""
    ignore = json.loads((root / "ignore_regions.json").read_text())
    count = {k: 0 for k in ("mask", "no_mask", "mask found", "no_mask found", "mask right",
                            "no_mask right", "mask fp", "no_mask fp")}  # fmt: skip
    for image, faces in macwin_scenes(root).items():
        predicted = pipeline.process(cv2.imread(str(image)))
        regions = [box for box, _ in faces] + [tuple(b) for b in ignore.get(image.name, [])]
        pairs = dict(greedy_pairs(tolerant_scores([p.box for p in predicted], regions), 0.0))
        by_face = {g: p for p, g in pairs.items()}
        for g, (_, label) in enumerate(faces):
            count[label] += 1
            if g in by_face:
                count[f"{label} found"] += 1
                right = predicted[by_face[g]].label == label
                count[f"{label} right"] += right
                count[f"{predicted[by_face[g]].label} fp"] += not right
        for p, face in enumerate(predicted):
            count[f"{face.label} fp"] += p not in pairs
    figures = {}
    for label in ("mask", "no_mask"):
        tp, fp = count[f"{label} right"], count[f"{label} fp"]
        figures[f"{label} found"] = count[f"{label} found"] / count[label]
        figures[f"{label} right"] = tp / count[f"{label} found"]
        figures[f"{label} f1"] = 2 * tp / (2 * tp + fp + count[label] - tp)
    return figures


def test_aizoo_on_external_macwin_gives_the_readmes_figures(data_root):
    figures = macwin_figures(AizooPipeline(MODELS), data_root / "external-macwin")
    print("AIZOO on external-macwin:", {k: round(v, 3) for k, v in figures.items()})
    readme = {"no_mask found": 0.97, "no_mask right": 1.0, "mask found": 0.74,
              "mask right": 0.898, "no_mask f1": 0.927, "mask f1": 0.792}  # fmt: skip
    for name, value in readme.items():
        assert figures[name] == pytest.approx(value, abs=0.015), (name, figures)
