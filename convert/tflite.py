"""Keras to TFLite (float32, float16, full-integer int8): ``python -m maskwatch.convert.tflite``.

The int8 model's representative data are training crops cut and pre-processed by the
device's own code (``maskwatch.core.preprocess``), so the quantization ranges are the ones the
Pi sees. The int8 model then has to pass the parity gate (``maskwatch.convert.parity``) before it
replaces the model in ``--out``; a failure leaves the previous model where it was.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from maskwatch.convert.classifier_entry import classifier_info
from maskwatch.core.bundle import load_bundle
from maskwatch.core.errors import MaskwatchError
from maskwatch.core.preprocess import PreprocessSpec
from maskwatch.train.crops import cached_crops
from maskwatch.train.data import read_sources
from maskwatch.train.datasets import DatasetError, FaceSample
from maskwatch.train.evaluate import scene_samples
from maskwatch.train.metrics import classification_report
from maskwatch.train.split import apply_split
from maskwatch.vision.classifier import TFLiteClassifier
from maskwatch.vision.detectors import ORIGINAL_YUNET, create_detector

PRECISIONS = ("float32", "float16", "int8")


def convert(
    keras_model: Path, precision: str, out: Path, representative: np.ndarray | None = None
) -> Path:
    """Write ``keras_model`` as TFLite; int8 is calibrated on ``representative`` crops."""
    import keras
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(keras.models.load_model(keras_model))
    if precision == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "int8":
        if representative is None or not len(representative):
            raise ValueError("int8 conversion needs representative crops")

        def samples():  # noqa: ANN202 - the converter's generator protocol
            for crop in representative:
                yield [crop[np.newaxis].astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = samples
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    elif precision != "float32":
        raise ValueError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(converter.convert())
    return out


def saved_split(metrics: dict, split_file: Path, data_root: Path) -> dict[str, list[FaceSample]]:
    """The model's sources, read once, placed as the saved split placed them."""
    return apply_split(read_sources(data_root, metrics["sources"]), split_file)


def split_crops(
    metrics: dict,
    split: dict[str, list[FaceSample]],
    models_dir: Path,
    which: str,
    cache: Path | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The crops of one side of the split, cut the way the model was trained (kept in
    ``cache`` as training keeps them, when given)."""
    spec = PreprocessSpec(**metrics["preprocess"])
    detector = None
    if metrics["crops"] == "detector":
        detector = create_detector(ORIGINAL_YUNET, models_dir)
    x, y, _ = cached_crops(split[which], spec, cache, detector)
    return x, y


def representative_crops(x_train: np.ndarray, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return x_train[rng.choice(len(x_train), size=min(count, len(x_train)), replace=False)]


def parity_report(
    args: argparse.Namespace,
    metrics: dict,
    split: dict[str, list[FaceSample]],
    int8_model: Path,
    work: Path,
) -> dict:
    """Crop and scene figures of the int8 model against Keras / float32; raises on failure."""
    import keras

    from maskwatch.convert.bundle import build_bundle
    from maskwatch.convert.parity import check, crop_figures, scene_figures

    spec = PreprocessSpec(**metrics["preprocess"])
    x_test, y_test = split_crops(metrics, split, args.models_dir, "test", args.crop_cache)
    keras_probabilities = keras.models.load_model(args.model).predict(
        x_test.astype("float32"), verbose=0
    )
    int8 = TFLiteClassifier(int8_model, classifier_info(int8_model, spec.input_size))
    figures, agreement = crop_figures(keras_probabilities, int8, x_test, y_test)
    bundles = {}
    for name, model in (
        ("float32", args.float_dir / "mask_classifier_float32.tflite"),
        ("int8", int8_model),
    ):
        build_bundle(model, spec, args.models_dir, work / name)
        bundles[name] = load_bundle(work / name)
    figures += scene_figures(bundles["float32"], bundles["int8"], scene_samples(split["test"]))
    report = classification_report(y_test, int8.probabilities(list(x_test)).argmax(1))
    report["keras_accuracy"] = figures[0].reference
    report["agreement_with_keras"] = round(agreement, 4)
    report["parity"] = [
        {
            "figure": f.name,
            "reference": round(f.reference, 4),
            "int8": round(f.int8, 4),
            "gated": f.gated,
        }
        for f in figures
    ]
    report["size_bytes"] = int8_model.stat().st_size
    check(figures)
    return report


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except (DatasetError, MaskwatchError, OSError) as error:
        raise SystemExit(f"maskwatch.convert.tflite: error: {error}") from None


def _main(argv: list[str] | None) -> int:
    from maskwatch.convert.parity import ParityError

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/mask_classifier.keras"))
    parser.add_argument("--metrics", type=Path, default=Path("models/metrics.json"))
    parser.add_argument("--split", type=Path, default=Path("models/split.json"))
    parser.add_argument("--data-root", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--models-dir", type=Path, default=Path("../shared/models"))
    parser.add_argument("--out", type=Path, default=Path("models/mask_classifier_int8.tflite"))
    parser.add_argument("--float-dir", type=Path, default=Path("build"),
                        help="where the float32 and float16 models go")  # fmt: skip
    parser.add_argument("--representative", type=int, default=1000)
    parser.add_argument("--crop-cache", type=Path, default=Path("build/crops"),
                        help="where cut crops are kept between runs")  # fmt: skip
    args = parser.parse_args(argv)

    metrics = json.loads(args.metrics.read_text())
    for precision in ("float32", "float16"):
        convert(args.model, precision, args.float_dir / f"mask_classifier_{precision}.tflite")
    split = saved_split(metrics, args.split, args.data_root)
    x_train, _ = split_crops(metrics, split, args.models_dir, "train", args.crop_cache)
    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / args.out.name
        representative = representative_crops(x_train, args.representative, metrics["seed"])
        convert(args.model, "int8", candidate, representative)
        try:
            report = parity_report(args, metrics, split, candidate, Path(tmp))
        except ParityError as error:
            print(f"convert: error: {error}", file=sys.stderr)
            return 1
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(candidate.read_bytes())
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    for figure in report["parity"]:
        print(f"{figure['figure']}: int8 {figure['int8']:.4f}, reference {figure['reference']:.4f}")
    print(f"int8 agrees with Keras on {report['agreement_with_keras']:.2%} of test crops; "
          f"{report['size_bytes']} bytes -> {args.out}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
