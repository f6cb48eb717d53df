"""Compare trained classifiers:
``python -m maskwatch.train.compare runs/A runs/B --out docs/...md``.

Each run folder holds what ``make model``-style runs write: ``metrics.json``, the int8
model with its crop report, and ``reports/scene_evaluation.json``. Latency is measured
here: one face per call through ``edge``'s classifier, int8, one thread, median of many.
"""

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from maskwatch.convert.classifier_entry import classifier_info
from maskwatch.vision.classifier import TFLiteClassifier


def synthetic_count(added: int | dict[str, int]) -> int:
    """Synthetic faces added: one number before the third class, per label since."""
    return sum(added.values()) if isinstance(added, dict) else added


def count_macs(model) -> int:  # noqa: ANN001 - a keras.Model
    """Multiply-accumulates of one forward pass: convolutions and dense layers."""
    from keras import layers

    total = 0
    for layer in model.layers:
        if hasattr(layer, "layers"):  # a nested backbone model
            total += count_macs(layer)
            continue
        if isinstance(layer, layers.DepthwiseConv2D):
            _, h, w, c = layer.output.shape
            kh, kw = layer.kernel_size
            total += h * w * kh * kw * c
        elif isinstance(layer, layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            total += h * w * kh * kw * layer.input.shape[-1] * c_out
        elif isinstance(layer, layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return int(total)


def latency_ms(model: Path, input_size: int, runs: int = 300) -> float:
    """Median milliseconds to classify one face, int8, one interpreter thread."""
    classifier = TFLiteClassifier(model, classifier_info(model, input_size), threads=1)
    face = [np.random.default_rng(0).integers(0, 256, (input_size, input_size, 3), np.uint8)]
    for _ in range(20):
        classifier.probabilities(face)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        classifier.probabilities(face)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def summarise(run: Path) -> dict:
    import keras

    metrics = json.loads((run / "metrics.json").read_text())
    int8 = json.loads((run / "mask_classifier_int8.json").read_text())
    scene = json.loads((run / "reports" / "scene_evaluation.json").read_text())
    size = metrics["preprocess"]["input_size"]
    model = keras.models.load_model(run / "mask_classifier.keras")
    return {
        "run": run.name,
        "backbone": metrics["backbone"],
        "input": size,
        "crops": metrics["crops"],
        "synthetic": synthetic_count(metrics["synthetic_masks"]["added"]),
        "params": metrics["parameters"],
        "mmacs": count_macs(model) / 1e6,
        "kib": int8["size_bytes"] / 1024,
        "ms": latency_ms(run / "mask_classifier_int8.tflite", size),
        "train_min": metrics["train_seconds"] / 60,
        "epochs": metrics["epochs_run"],
        "crop_keras": metrics["crop_test_keras"]["accuracy"],
        "crop_int8": int8["accuracy"],
        "f1_mask": scene["per_label"]["mask"]["f1"],
        "f1_no_mask": scene["per_label"]["no_mask"]["f1"],
        "det_mask": scene["detection_recall"]["mask"]["recall"],
        "det_no_mask": scene["detection_recall"]["no_mask"]["recall"],
    }


def markdown(rows: list[dict]) -> str:
    header = (
        "| run | backbone | input | crops | synthetic masks | params | MMACs | int8 KiB "
        "| ms/face (x86, 1 thread) | train min (epochs) | crop acc Keras | crop acc int8 "
        "| scene F1 mask | scene F1 no_mask | detection recall mask / no_mask |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| {r['run']} | {r['backbone']} | {r['input']} | {r['crops']} | {r['synthetic']} "
        f"| {r['params']:,} | {r['mmacs']:.1f} | {r['kib']:.0f} | {r['ms']:.2f} "
        f"| {r['train_min']:.1f} ({r['epochs']}) | {r['crop_keras']:.4f} | {r['crop_int8']:.4f} "
        f"| {r['f1_mask']:.3f} | {r['f1_no_mask']:.3f} "
        f"| {r['det_mask']:.3f} / {r['det_no_mask']:.3f} |"
        for r in rows
    ]
    return header + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    table = markdown([summarise(run) for run in args.runs])
    machine = f"{platform.machine()}, Python {platform.python_version()}"
    command = f"python -m maskwatch.train.compare {' '.join(map(str, args.runs))}"
    text = f"Measured on {machine} by `{command}`.\n\n{table}"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
