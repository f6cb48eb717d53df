"""Greedy one-to-one matching of boxes: by IoU (predictions to annotations, faces to
tracks), best pairs first."""

from collections.abc import Sequence

import numpy as np

from maskwatch.core.preprocess import Box


def iou_matrix(a: Sequence[Box], b: Sequence[Box]) -> np.ndarray:
    """IoU of every box in ``a`` with every box in ``b``, shape (len(a), len(b))."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    a_arr, b_arr = np.asarray(a, float)[:, None, :], np.asarray(b, float)[None, :, :]
    w = np.clip(
        np.minimum(a_arr[..., 2], b_arr[..., 2]) - np.maximum(a_arr[..., 0], b_arr[..., 0]), 0, None
    )
    h = np.clip(
        np.minimum(a_arr[..., 3], b_arr[..., 3]) - np.maximum(a_arr[..., 1], b_arr[..., 1]), 0, None
    )
    inter = w * h
    area_a = (a_arr[..., 2] - a_arr[..., 0]) * (a_arr[..., 3] - a_arr[..., 1])
    area_b = (b_arr[..., 2] - b_arr[..., 0]) * (b_arr[..., 3] - b_arr[..., 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-9)


def match_greedy(
    predicted: Sequence[Box], annotated: Sequence[Box], min_iou: float = 0.4
) -> list[tuple[int, int]]:
    """One-to-one (prediction, annotation) pairs with IoU >= ``min_iou``, best pairs first."""
    return greedy_pairs(iou_matrix(predicted, annotated), min_iou)


def greedy_pairs(scores: np.ndarray, minimum: float) -> list[tuple[int, int]]:
    """One-to-one (row, column) pairs whose score is at least ``minimum``, best first."""
    pairs = sorted(
        ((scores[p, g], p, g) for p, g in zip(*np.nonzero(scores >= minimum), strict=True)),
        reverse=True,
    )
    used_p, used_g, matches = set(), set(), []
    for _, p, g in pairs:
        if p not in used_p and g not in used_g:
            used_p.add(p)
            used_g.add(g)
            matches.append((int(p), int(g)))
    return matches
