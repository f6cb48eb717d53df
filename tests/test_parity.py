"""The parity gate passes on the committed model and fails on broken calibration."""

import json

import numpy as np
import pytest

from maskwatch.convert.classifier_entry import classifier_info
from maskwatch.convert.parity import Figure, ParityError, check, crop_figures
from maskwatch.convert.tflite import convert, saved_split, split_crops
from maskwatch.core.bundle import load_bundle
from maskwatch.train.evaluate import evaluate_scenes, scene_samples
from maskwatch.vision.classifier import TFLiteClassifier
from maskwatch.vision.pipeline import MaskPipeline
from tests.conftest import ROOT, SPLIT

MODELS = ROOT / "models"


@pytest.fixture(scope="module")
def test_crops(data_root):
    metrics = json.loads((MODELS / "metrics.json").read_text())
    return metrics, *split_crops(  # cut at the original YuNet's boxes, as in training
        metrics, saved_split(metrics, SPLIT, data_root), data_root.parent / "models", "test"
    )


@pytest.fixture(scope="module")
def keras_probabilities(test_crops):
    import keras

    _, x, _ = test_crops
    model = keras.models.load_model(MODELS / "mask_classifier.keras")
    return model.predict(x.astype("float32"), verbose=0)


def test_the_committed_int8_model_passed_the_gate_and_still_does(test_crops, keras_probabilities):
    metrics, x, y = test_crops
    recorded = json.loads((MODELS / "mask_classifier_int8.json").read_text())
    figures = [
        Figure(p["figure"], p["reference"], p["int8"], p["gated"]) for p in recorded["parity"]
    ]
    assert {f.name: f.gated for f in figures} == {
        "crop test accuracy": True, "scene F1 mask": True, "scene F1 no_mask": True,
        "scene F1 mask_incorrect": False,  # a dozen faces: reported, not gated
    }  # fmt: skip
    check(figures)
    model = MODELS / "mask_classifier_int8.tflite"
    int8 = TFLiteClassifier(model, classifier_info(model, metrics["preprocess"]["input_size"]))
    (crop,), agreement = crop_figures(keras_probabilities, int8, x, y)
    assert crop.int8 == pytest.approx(recorded["parity"][0]["int8"], abs=1e-4)
    assert crop.reference == pytest.approx(recorded["parity"][0]["reference"], abs=1e-4)
    assert agreement >= 0.99


def test_the_recorded_scene_f1_is_what_the_bundle_scores_now(data_root, bundle_dir):
    """Recomputed on the held-out scenes through the device pipeline, not read back."""
    recorded = json.loads((MODELS / "mask_classifier_int8.json").read_text())
    split = saved_split(json.loads((MODELS / "metrics.json").read_text()), SPLIT, data_root)
    per_label = evaluate_scenes(MaskPipeline(load_bundle(bundle_dir)),
                                scene_samples(split["test"]))["per_label"]  # fmt: skip
    for figure in recorded["parity"][1:]:
        label = figure["figure"].removeprefix("scene F1 ")
        assert per_label[label]["f1"] == pytest.approx(figure["int8"], abs=1e-4), label


def test_a_broken_representative_set_fails_the_gate(test_crops, keras_probabilities, tmp_path):
    metrics, x, y = test_crops
    # Calibrating on black frames squeezes every activation range: the int8 model breaks.
    black = np.zeros((50, *x.shape[1:]), np.uint8)
    model = convert(MODELS / "mask_classifier.keras", "int8", tmp_path / "broken.tflite", black)
    int8 = TFLiteClassifier(model, classifier_info(model, metrics["preprocess"]["input_size"]))
    figures, _ = crop_figures(keras_probabilities, int8, x, y)
    with pytest.raises(ParityError, match=r"crop test accuracy 0\.\d+ vs 0\.\d+"):
        check(figures)


def test_the_gate_names_every_figure_that_failed():
    figures = [
        Figure("crop test accuracy", 0.96, 0.958),
        Figure("scene F1 mask", 0.8, 0.7),
        Figure("scene F1 mask_incorrect", 0.5, 0.3, gated=False),
    ]
    with pytest.raises(ParityError) as caught:
        check(figures)
    assert "scene F1 mask 0.7000 vs 0.8000" in str(caught.value)
    assert "crop test accuracy" not in str(caught.value)
    assert "mask_incorrect" not in str(caught.value)
