"""Keras to full-integer int8 TFLite: ``python -m convert.tflite``.

The representative data are training crops cut and pre-processed by the device's
own code (``edge.preprocess``), so the quantization ranges are the ones the Pi sees.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from edge.bundle import ClassifierInfo
from edge.classifier import TFLiteClassifier
from edge.detectors import DEFAULT_DETECTOR, create_detector
from edge.labels import CLASSIFIER_LABELS
from edge.preprocess import PreprocessSpec
from train.crops import load_crops
from train.data import read_sources
from train.metrics import classification_report
from train.split import apply_split


def convert_int8(keras_model: Path, representative: np.ndarray, out: Path) -> Path:
    """Write an int8-in, int8-out TFLite model calibrated on ``representative`` crops."""
    import keras
    import tensorflow as tf

    model = keras.models.load_model(keras_model)

    def samples():  # noqa: ANN202 - the converter's generator protocol
        for crop in representative:
            yield [crop[np.newaxis].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = samples
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(converter.convert())
    return out


def classifier_info(model: Path, input_size: int) -> ClassifierInfo:
    """The manifest entry for a converted model, read from its own input tensor."""
    from edge.runtime import load_interpreter

    details = load_interpreter(model).get_input_details()[0]
    scale, zero_point = details["quantization"]
    return ClassifierInfo(
        file=model.name,
        labels=CLASSIFIER_LABELS,
        input_size=input_size,
        dtype=np.dtype(details["dtype"]).name,
        input_scale=float(scale),
        input_zero_point=int(zero_point),
    )


def split_crops(
    metrics: dict, split_file: Path, data_root: Path, models_dir: Path, which: str
) -> tuple[np.ndarray, np.ndarray]:
    """The crops of one side of a saved split, cut the way the model was trained."""
    spec = PreprocessSpec(**metrics["preprocess"])
    split = apply_split(read_sources(data_root, metrics["sources"]), split_file)
    detector = None
    if metrics["crops"] == "detector":
        detector = create_detector(DEFAULT_DETECTOR, models_dir / DEFAULT_DETECTOR.file)
    x, y, _ = load_crops(split[which], spec, detector=detector)
    return x, y


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/mask_classifier.keras"))
    parser.add_argument("--metrics", type=Path, default=Path("models/metrics.json"))
    parser.add_argument("--split", type=Path, default=Path("models/split.json"))
    parser.add_argument("--data-root", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--models-dir", type=Path, default=Path("../shared/models"))
    parser.add_argument("--out", type=Path, default=Path("models/mask_classifier_int8.tflite"))
    parser.add_argument("--representative", type=int, default=300)
    args = parser.parse_args(argv)

    metrics = json.loads(args.metrics.read_text())
    crops = {
        which: split_crops(metrics, args.split, args.data_root, args.models_dir, which)
        for which in ("train", "test")
    }
    x_train = crops["train"][0]
    rng = np.random.default_rng(metrics["seed"])
    chosen = rng.choice(len(x_train), size=min(args.representative, len(x_train)), replace=False)
    convert_int8(args.model, x_train[chosen], args.out)

    x_test, y_test = crops["test"]
    input_size = metrics["preprocess"]["input_size"]
    int8 = TFLiteClassifier(args.out, classifier_info(args.out, input_size))
    report = classification_report(y_test, int8.probabilities(list(x_test)).argmax(1))
    report["keras_accuracy"] = metrics["crop_test_keras"]["accuracy"]
    report["size_bytes"] = args.out.stat().st_size
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    print(
        f"int8 crop test accuracy {report['accuracy']:.4f} "
        f"(Keras {report['keras_accuracy']:.4f}), {report['size_bytes']} bytes -> {args.out}"
    )


if __name__ == "__main__":
    main()
