"""Real Keras training, real int8 conversion, and the committed model's recorded figures."""

import json

import numpy as np
import pytest

from maskwatch.convert.classifier_entry import classifier_info
from maskwatch.convert.tflite import convert, saved_split, split_crops
from maskwatch.core.bundle import load_bundle
from maskwatch.core.preprocess import PreprocessSpec
from maskwatch.train.crops import load_crops
from maskwatch.train.datasets import read_voc_scenes
from maskwatch.train.metrics import classification_report
from maskwatch.train.split import split_samples
from maskwatch.vision.classifier import TFLiteClassifier
from tests.conftest import ROOT, SPLIT

SEED = 1234


@pytest.fixture(scope="module")
def split(data_root):
    return split_samples(list(read_voc_scenes(data_root / "scenes-voc")), SEED)


def test_a_trained_model_converts_to_int8_that_agrees_with_keras(split, tmp_path):
    import keras

    from maskwatch.train.model import build_small_cnn

    keras.utils.set_random_seed(SEED)
    spec = PreprocessSpec(input_size=32)
    x, y, _ = load_crops(split["train"][:600], spec)
    model = build_small_cnn(spec.input_size, width=8)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x.astype("float32"), y, epochs=2, batch_size=64, verbose=0)
    model.save(tmp_path / "m.keras")

    tflite = convert(tmp_path / "m.keras", "int8", tmp_path / "m.tflite", x[:100])
    info = classifier_info(tflite, spec.input_size)
    assert info.dtype == "int8" and info.input_scale == pytest.approx(1.0)
    assert info.input_zero_point == -128
    int8 = TFLiteClassifier(tflite, info).probabilities(list(x[:200]))
    keras_probabilities = model.predict(x[:200].astype("float32"), verbose=0)
    agreement = (int8.argmax(1) == keras_probabilities.argmax(1)).mean()
    assert agreement >= 0.95
    assert np.abs(int8 - keras_probabilities).max() < 0.1


def test_the_committed_classifier_reproduces_its_recorded_accuracy(data_root, bundle_dir):
    """The figure in models/ is measured again here, on the held-out crops, through edge/."""
    metrics = json.loads((ROOT / "models" / "metrics.json").read_text())
    recorded = json.loads((ROOT / "models" / "mask_classifier_int8.json").read_text())
    # Crops cut at the original YuNet's boxes, as the classifier was trained and evaluated.
    models = data_root.parent / "models"
    x, y = split_crops(metrics, saved_split(metrics, SPLIT, data_root), models, "test")
    manifest = load_bundle(bundle_dir).manifest
    classifier = TFLiteClassifier(bundle_dir / manifest.classifier.file, manifest.classifier)
    report = classification_report(y, classifier.probabilities(list(x)).argmax(1))
    assert report["count"] == recorded["count"] == metrics["faces"]["test"]
    assert report["accuracy"] == pytest.approx(recorded["accuracy"], abs=1e-4)
    assert report["accuracy"] >= 0.9
