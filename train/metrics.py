"""Crop-level classification metrics, in plain numpy so any stage can report them."""

import numpy as np

from maskwatch.core.labels import CLASSIFIER_LABELS


def classification_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """Accuracy, confusion matrix (rows true, columns predicted) and per-class P/R/F1."""
    n = len(CLASSIFIER_LABELS)
    confusion = np.zeros((n, n), dtype=int)
    np.add.at(confusion, (np.asarray(y_true), np.asarray(y_pred)), 1)
    per_class = {}
    for i, label in enumerate(CLASSIFIER_LABELS):
        tp = int(confusion[i, i])
        predicted, actual = int(confusion[:, i].sum()), int(confusion[i, :].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": actual,
        }
    total = int(confusion.sum())
    return {
        "accuracy": round(float(np.trace(confusion)) / total, 4) if total else 0.0,
        "count": total,
        "labels": list(CLASSIFIER_LABELS),
        "confusion": confusion.tolist(),
        "per_class": per_class,
    }
