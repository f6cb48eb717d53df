"""Train the mask / no-mask classifier: ``python -m train.train --data-root ../shared/datasets``.

Reads the VOC scenes and the folder-per-class crops, splits by scene, cuts every face
with the device's crop code, trains the small CNN with a fixed seed, and writes the
model, the saved split and a metrics JSON into ``--out``.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from edge.labels import CLASSIFIER_LABELS
from edge.preprocess import PreprocessSpec
from train.crops import load_crops
from train.datasets import FaceSample, read_class_folders, read_voc_scenes
from train.metrics import classification_report
from train.split import SPLITS, save_split, split_samples

DEFAULT_DATA_ROOT = Path("../shared/datasets")
MODEL_FILE = "mask_classifier.keras"
SPLIT_FILE = "split.json"
METRICS_FILE = "metrics.json"


def read_training_samples(data_root: Path) -> list[FaceSample]:
    """Every face of the sources the spine trains on."""
    if not data_root.is_dir():
        raise SystemExit(f"data root {data_root} does not exist; pass --data-root DIR")
    return [
        *read_voc_scenes(data_root / "scenes-voc"),
        *read_class_folders(data_root / "crops"),
    ]


def _augment(images, labels):  # noqa: ANN001, ANN202 - tf.data mapping function
    import tensorflow as tf

    images = tf.image.random_flip_left_right(images)
    images = tf.image.random_brightness(images, 32.0)
    images = tf.image.random_contrast(images, 0.75, 1.25)
    return tf.clip_by_value(images, 0.0, 255.0), labels


def train(args: argparse.Namespace) -> dict:
    import keras
    import tensorflow as tf

    from train.model import build_small_cnn

    keras.utils.set_random_seed(args.seed)
    spec = PreprocessSpec(input_size=args.input_size, crop_margin=args.crop_margin)
    samples = read_training_samples(args.data_root)
    split = split_samples(samples, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    save_split(args.out / SPLIT_FILE, split, args.seed)

    data = {}
    for name in SPLITS:
        x, y, _ = load_crops(split[name], spec)
        data[name] = (x, y)
        counts = {label: int((y == i).sum()) for i, label in enumerate(CLASSIFIER_LABELS)}
        print(f"{name:5s} {len(y):5d} faces {counts}")

    x_train, y_train = data["train"]
    counts = np.bincount(y_train, minlength=len(CLASSIFIER_LABELS))
    class_weight = {i: len(y_train) / (len(counts) * c) for i, c in enumerate(counts) if c}
    train_ds = (
        tf.data.Dataset.from_tensor_slices((x_train.astype("float32"), y_train))
        .shuffle(len(y_train), seed=args.seed)
        .batch(args.batch_size)
        .map(_augment, num_parallel_calls=2)
        .prefetch(2)
    )
    x_val, y_val = data["val"]
    model = build_small_cnn(args.input_size)
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    started = time.monotonic()
    history = model.fit(
        train_ds,
        validation_data=(x_val.astype("float32"), y_val),
        epochs=args.epochs,
        class_weight=class_weight,
        callbacks=[
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=4, restore_best_weights=True)
        ],
        verbose=2,
    )
    seconds = time.monotonic() - started
    model.save(args.out / MODEL_FILE)

    reports = {}
    for name in ("val", "test"):
        x, y = data[name]
        predicted = model.predict(x.astype("float32"), verbose=0).argmax(axis=1)
        reports[name] = classification_report(y, predicted)
    metrics = {
        "seed": args.seed,
        "preprocess": {"input_size": spec.input_size, "crop_margin": spec.crop_margin},
        "epochs_run": len(history.history["loss"]),
        "train_seconds": round(seconds, 1),
        "faces": {name: int(len(data[name][1])) for name in SPLITS},
        "class_weight": {CLASSIFIER_LABELS[i]: round(w, 3) for i, w in class_weight.items()},
        "crop_metrics": reports,
        "history": {k: [round(float(v), 4) for v in vs] for k, vs in history.history.items()},
    }
    (args.out / METRICS_FILE).write_text(json.dumps(metrics, indent=1) + "\n")
    print(f"test accuracy {reports['test']['accuracy']:.4f} after {seconds:.0f} s")
    return metrics


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument("--out", type=Path, default=Path("models"))
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--input-size", type=int, default=64)
    parser.add_argument("--crop-margin", type=float, default=0.2)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
