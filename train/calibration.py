"""Temperature scaling on the validation split, expected calibration error, and the
score below which a face should not vote (``pipeline.min_label_score``).

A softmax classifier trained with early stopping is usually over-confident. Dividing its
logits by one temperature T, fitted to minimise the validation split's negative
log-likelihood, leaves every label unchanged and makes the scores mean what they say.
T is folded into the final Dense layer (weights and bias divided by T), so the Keras
model, the TFLite models and the device all carry the calibrated scores.
"""

from dataclasses import dataclass

import numpy as np

ECE_BINS = 15
VOTE_ACCURACY = 0.8  # faces in a score band right less often than this do not vote
VOTE_BAND = 0.1
VOTE_GRID = np.round(np.arange(0.35, 0.951, 0.05), 2)
MIN_BAND_FACES = 5


@dataclass(frozen=True)
class Calibration:
    temperature: float
    ece_before: float  # validation split
    ece_after: float
    min_label_score: float

    def as_json(self) -> dict:
        return {
            "temperature": round(self.temperature, 4),
            "val_ece_before": round(self.ece_before, 4),
            "val_ece_after": round(self.ece_after, 4),
            "min_label_score": self.min_label_score,
        }


def scaled(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax of log-probabilities divided by ``temperature``."""
    logits = np.log(np.clip(probabilities, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def negative_log_likelihood(probabilities: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(np.clip(probabilities[np.arange(len(y)), y], 1e-12, 1.0)).mean())


def fit_temperature(probabilities: np.ndarray, y: np.ndarray) -> float:
    """The temperature (0.05..20, log-spaced search then refined) of least NLL."""
    low, high = np.log(0.05), np.log(20.0)
    for _ in range(3):  # a coarse grid, then two finer ones around the best
        grid = np.linspace(low, high, 41)
        losses = [negative_log_likelihood(scaled(probabilities, np.exp(g)), y) for g in grid]
        best = int(np.argmin(losses))
        step = grid[1] - grid[0]
        low, high = grid[best] - step, grid[best] + step
    return float(np.exp(grid[best]))


def expected_calibration_error(probabilities: np.ndarray, y: np.ndarray) -> float:
    """Top-label ECE over 15 equal-width confidence bins, weighted by their faces."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y
    bins = np.minimum((confidence * ECE_BINS).astype(int), ECE_BINS - 1)
    error = 0.0
    for b in np.unique(bins):
        inside = bins == b
        error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error)


def vote_threshold(probabilities: np.ndarray, y: np.ndarray) -> float:
    """The lowest score from which every band of width 0.1 (with 5 faces or more) holds
    faces labelled right at least 80% of the time: below it a face does not vote."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y

    def band_ok(start: float) -> bool:
        inside = (confidence >= start) & (confidence < start + VOTE_BAND)
        return inside.sum() < MIN_BAND_FACES or correct[inside].mean() >= VOTE_ACCURACY

    for start in VOTE_GRID:
        if all(band_ok(s) for s in VOTE_GRID if s >= start):
            return float(start)
    return float(VOTE_GRID[-1])


def calibrate(probabilities: np.ndarray, y: np.ndarray) -> Calibration:
    """Fit T on validation probabilities; the ECE before and after; the vote threshold."""
    temperature = fit_temperature(probabilities, y)
    after = scaled(probabilities, temperature)
    return Calibration(
        temperature,
        expected_calibration_error(probabilities, y),
        expected_calibration_error(after, y),
        vote_threshold(after, y),
    )


def fold_temperature(model, temperature: float) -> None:  # noqa: ANN001 - a keras.Model
    """Divide the softmax layer's logits by ``temperature`` in place (its kernel and bias)."""
    kernel, bias = model.get_layer("label").get_weights()
    model.get_layer("label").set_weights([kernel / temperature, bias / temperature])
