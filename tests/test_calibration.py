"""Temperature scaling: the fitted temperature, the calibration error, folding it into a model."""

import numpy as np
import pytest

from maskwatch.train.calibration import (
    calibrate,
    expected_calibration_error,
    fit_temperature,
    fold_temperature,
    scaled,
    vote_threshold,
)
from maskwatch.train.model import build_classifier


def overconfident(temperature: float, count: int = 4000, seed: int = 0):
    """Labels drawn from calibrated 3-class probabilities, reported sharpened by
    ``temperature`` (the calibrated logits times it)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, (count, 3))
    calibrated = scaled(np.exp(logits), 1.0)
    y = np.array([rng.choice(3, p=p) for p in calibrated])
    return scaled(calibrated, 1.0 / temperature), y


def test_the_temperature_that_undoes_overconfidence_is_found():
    probabilities, y = overconfident(2.5)
    assert fit_temperature(probabilities, y) == pytest.approx(2.5, rel=0.1)
    result = calibrate(probabilities, y)
    assert result.ece_before > 0.1 and result.ece_after < 0.03
    assert (scaled(probabilities, result.temperature).argmax(1) == probabilities.argmax(1)).all()


def test_expected_calibration_error_by_hand():
    probabilities = np.array([[0.9, 0.1, 0.0], [0.9, 0.05, 0.05], [0.6, 0.4, 0.0], [0.6, 0, 0.4]])
    y = np.array([0, 1, 0, 0])
    # bin 0.9: accuracy 0.5 against 0.9; bin 0.6: accuracy 1.0 against 0.6; half the faces each
    assert expected_calibration_error(probabilities, y) == pytest.approx(0.5 * 0.4 + 0.5 * 0.4)


def test_faces_in_bands_right_less_than_80_percent_of_the_time_do_not_vote():
    confidence = np.repeat([0.45, 0.55, 0.65, 0.75, 0.85, 0.95], 20)
    right = np.concatenate([np.arange(20) < n for n in (10, 12, 15, 17, 18, 20)])
    probabilities = np.stack([confidence, 1 - confidence, np.zeros_like(confidence)], 1)
    y = np.where(right, 0, 1)
    # bands from 0.65: 0.75 and 0.85 right; from 0.6 the 0.65 faces (75%) fall short
    assert vote_threshold(probabilities, y) == pytest.approx(0.7)


def test_folding_the_temperature_into_the_model_scales_its_logits():
    model, _ = build_classifier("small_cnn", 32)
    faces = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3)).astype(np.float32)
    model.get_layer("label").set_weights(
        [w * 20 for w in model.get_layer("label").get_weights()]
    )  # confident enough for the temperature to matter
    before = model.predict(faces, verbose=0)
    fold_temperature(model, 3.0)
    assert model.predict(faces, verbose=0) == pytest.approx(scaled(before, 3.0), abs=1e-5)
