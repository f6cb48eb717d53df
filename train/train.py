"""Train the mask / no-mask classifier: ``python -m maskwatch.train.train``.

Reads the sources (default: the YOLO and VOC scenes and the folder-per-class crops),
deduplicates photos across sources by perceptual hash, splits by scene group and saves
the split, cuts every face with the device's crop code (optionally at the boxes the
device's own detector finds), paints synthetic masks (worn right: ``mask``; under the
nose or on the chin: ``mask_incorrect``), trains with a fixed seed and TensorFlow's
deterministic ops, scales the temperature on the validation split, and writes the model,
a metrics JSON and the reports (curves, label counts, 3-class confusion, ROC / PR,
accuracy by face width, the worst errors' contact sheet) into ``--out`` and ``--reports``.
"""

import argparse
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

from maskwatch.core.labels import CLASSIFIER_LABELS, MASK, MASK_INCORRECT, NO_MASK
from maskwatch.core.preprocess import PreprocessSpec
from maskwatch.train.augment import augment_dataset
from maskwatch.train.calibration import calibrate, expected_calibration_error, fold_temperature
from maskwatch.train.crops import CROP_MODES, cached_crops
from maskwatch.train.data import DEFAULT_SOURCES, prepare_split, read_sources
from maskwatch.train.datasets import DatasetError, load_label_map
from maskwatch.train.error_reports import accuracy_by_width, error_sheet, plot_accuracy_by_width
from maskwatch.train.model import BACKBONES
from maskwatch.train.reports import classifier_report, plot_history, plot_label_counts, write_json
from maskwatch.train.split import SPLITS, apply_split, label_counts, save_split
from maskwatch.vision.detectors import ORIGINAL_YUNET, FaceDetector, create_detector

DEFAULT_DATA_ROOT = Path("../shared/datasets")
# Large, sharp bare faces and many mask kinds, cut as the device cuts them (issue 22).
DEFAULT_TRAIN_ONLY = ("folders:crops-web2",)
MODEL_FILE = "mask_classifier.keras"
SPLIT_FILE = "split.json"
METRICS_FILE = "metrics.json"


def add_synthetic_masks(
    x: np.ndarray,
    y: np.ndarray,
    fraction: float,
    wrongly: float,
    seed: int,
    skin_distance: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Paint masks on ``fraction`` of the no_mask crops and add them to the training set:
    a share ``wrongly`` of them under the nose or on the chin (``mask_incorrect``), the
    rest worn right (``mask``), in colours at least ``skin_distance`` (CIE76) from the
    face's own skin. Returns the new arrays and how many of each were added."""
    from maskwatch.train.synthetic_masks import WORN_WRONGLY, MaskPainter

    painter = MaskPainter(seed=seed, min_skin_distance=skin_distance)
    rng = np.random.default_rng(seed)
    no_mask = np.flatnonzero(y == CLASSIFIER_LABELS.index(NO_MASK))
    chosen = rng.choice(no_mask, size=round(len(no_mask) * fraction), replace=False)
    painted, labels = [], []
    for index in chosen:
        low = rng.random() < wrongly
        placement = WORN_WRONGLY[rng.integers(len(WORN_WRONGLY))] if low else "worn"
        crop = painter.paint(x[index], placement)
        if crop is not None:
            painted.append(crop)
            labels.append(CLASSIFIER_LABELS.index(MASK_INCORRECT if low else MASK))
    added = {
        label: labels.count(CLASSIFIER_LABELS.index(label)) for label in (MASK, MASK_INCORRECT)
    }
    if not painted:
        return x, y, added
    extra = np.asarray(labels, dtype=y.dtype)
    return np.concatenate([x, np.stack(painted)]), np.concatenate([y, extra]), added


def add_train_only(
    x: np.ndarray,
    y: np.ndarray,
    args: argparse.Namespace,
    spec: PreprocessSpec,
    detector: FaceDetector | None,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Add the ``--train-only`` sources' photos to the training crops, each cut at the
    detector's most confident face (photos without a face are left out). They never reach
    the split, so validation and test stay the saved scenes."""
    samples = read_sources(args.data_root, args.train_only)
    x_extra, y_extra, _ = cached_crops(samples, spec, args.crop_cache, detector, cut_whole=True)
    added = np.bincount(y_extra, minlength=len(CLASSIFIER_LABELS))
    summary = {
        "sources": list(args.train_only),
        "photos": len(samples),
        "faces_added": {label: int(n) for label, n in zip(CLASSIFIER_LABELS, added, strict=True)},
    }
    print(f"train-only sources: {summary}")
    return np.concatenate([x, x_extra]), np.concatenate([y, y_extra]), summary


CLASS_WEIGHTINGS = ("balanced", "sqrt")


def class_weights(counts: np.ndarray, weighting: str) -> dict[int, float]:
    """Per-class loss weights: ``balanced`` makes every class weigh as much in all
    (N / (K n_c)); ``sqrt`` takes its square root, so a class of a few hundred faces is
    not pushed onto faces of the large classes."""
    balanced = counts.sum() / (len(counts) * np.maximum(counts, 1))
    weights = balanced if weighting == "balanced" else np.sqrt(balanced)
    return {i: float(w) for i, w in enumerate(weights)}


def save_compact(model, path: Path) -> None:  # noqa: ANN001 - a keras.Model
    """Save architecture and weights only, deflated: 1.6 MB instead of 5.5 MB.

    An uncompiled clone leaves the optimizer's state out, and Keras stores its zip
    uncompressed although the HDF5 weights inside are mostly padding.
    """
    import keras

    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    clone.save(path)
    packed = path.with_suffix(".deflated")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            out.writestr(item, source.read(item.filename), compress_type=zipfile.ZIP_DEFLATED)
    packed.replace(path)


def _fit(model, train_ds, val, epochs, learning_rate, class_weight, callbacks, verbose):  # noqa: ANN001, ANN202
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model.fit(
        train_ds,
        validation_data=val,
        epochs=epochs,
        class_weight=class_weight,
        callbacks=callbacks,
        verbose=verbose,
    ).history


def train(args: argparse.Namespace) -> dict:
    import keras
    import tensorflow as tf

    from maskwatch.train.model import build_classifier

    keras.utils.set_random_seed(args.seed)
    if args.deterministic:  # one run per lever is then a fair comparison
        tf.config.experimental.enable_op_determinism()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    spec = PreprocessSpec(input_size=args.input_size, crop_margin=args.crop_margin)
    label_map = load_label_map(args.label_map) if args.label_map else None
    args.out.mkdir(parents=True, exist_ok=True)
    if args.split:  # reuse a saved split: every scene goes where it went before
        split = apply_split(read_sources(args.data_root, args.sources, label_map), args.split)
        save_split(args.out / SPLIT_FILE, split, args.seed)
    else:
        split = prepare_split(
            args.data_root, args.sources, args.seed, args.out / SPLIT_FILE, label_map
        )
    counts = label_counts(split)
    plot_label_counts(counts, args.reports / "label_counts.png")
    for name in SPLITS:
        print(f"{name:5s} {sum(counts[name].values()):5d} faces {counts[name]}")

    detector = None
    if args.crops == "detector":
        detector = create_detector(ORIGINAL_YUNET, args.models_dir)
    data = {name: cached_crops(split[name], spec, args.crop_cache, detector) for name in SPLITS}
    x_train, y_train, _ = data["train"]
    train_only = {}
    if args.train_only:
        x_train, y_train, train_only = add_train_only(x_train, y_train, args, spec, detector)
    synthetic = {MASK: 0, MASK_INCORRECT: 0}
    if args.synthetic_masks:
        x_train, y_train, synthetic = add_synthetic_masks(
            x_train, y_train, args.synthetic_masks, args.wrongly, args.seed,
            args.paint_skin_distance,
        )  # fmt: skip
        print(f"added synthetic faces: {synthetic}")

    counts_train = np.bincount(y_train, minlength=len(CLASSIFIER_LABELS))
    class_weight = class_weights(counts_train, args.class_weight)
    train_ds = augment_dataset(x_train, y_train, args.batch_size, args.seed)
    val = (data["val"][0].astype("float32"), data["val"][1])

    model, pretrained = build_classifier(args.backbone, args.input_size)
    per_label = np.bincount(y_train, minlength=len(CLASSIFIER_LABELS))
    print(f"{args.backbone}: {model.count_params():,} parameters; {per_label} training faces")
    checkpoint = args.out / "checkpoints" / f"{args.backbone}_best.keras"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    callbacks = [
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=args.patience, restore_best_weights=True
        ),
        keras.callbacks.ModelCheckpoint(checkpoint, monitor="val_loss", save_best_only=True),
    ]
    verbose = 1 if sys.stdout.isatty() else 2  # progress bars on a terminal, lines in logs
    started = time.monotonic()
    history: dict[str, list[float]] = {}
    if pretrained:  # warm the new head up on the frozen ImageNet features first
        for layer in pretrained:
            layer.trainable = False
        history = _fit(model, train_ds, val, args.warmup_epochs, args.learning_rate,
                       class_weight, [], verbose)  # fmt: skip
        for layer in pretrained:
            layer.trainable = True
    tuned = _fit(
        model, train_ds, val, args.epochs,
        args.learning_rate * (0.1 if pretrained else 1.0), class_weight, callbacks, verbose,
    )  # fmt: skip
    for key, values in tuned.items():
        history.setdefault(key, []).extend(values)
    seconds = time.monotonic() - started
    calibration = calibrate(model.predict(val[0], verbose=0), val[1])
    fold_temperature(model, calibration.temperature)
    print(f"temperature {calibration.temperature:.3f}: validation ECE "
          f"{calibration.ece_before:.4f} -> {calibration.ece_after:.4f}; "
          f"min_label_score {calibration.min_label_score}")  # fmt: skip
    save_compact(model, args.out / MODEL_FILE)

    x_test, y_test, widths = data["test"]
    probabilities = model.predict(x_test.astype("float32"), verbose=0)
    crop_test = classifier_report(y_test, probabilities, "crop_test_keras", args.reports)
    crop_test["ece"] = round(expected_calibration_error(probabilities, y_test), 4)
    crop_test["by_width"] = accuracy_by_width(y_test, probabilities.argmax(axis=1), widths)
    plot_accuracy_by_width(crop_test["by_width"], args.reports / "crop_test_by_width.png")
    error_sheet(x_test, y_test, probabilities, args.reports / "crop_test_worst_errors.png")
    plot_history(history, args.reports / "training_curves.png")
    metrics = {
        "seed": args.seed,
        "backbone": args.backbone,
        "sources": list(args.sources),
        "crops": args.crops,
        "train_only": train_only,
        "synthetic_masks": {
            "fraction": args.synthetic_masks,
            "wrongly": args.wrongly,
            "skin_distance": args.paint_skin_distance,
            "added": synthetic,
        },
        "deterministic": args.deterministic,
        "calibration": calibration.as_json(),
        "preprocess": {"input_size": spec.input_size, "crop_margin": spec.crop_margin},
        "parameters": int(model.count_params()),
        "epochs_run": len(history["loss"]),
        "train_seconds": round(seconds, 1),
        "faces": {name: int(len(data[name][1])) for name in SPLITS},
        "train_faces_with_synthetic": int(len(y_train)),
        "label_counts": counts,
        "class_weighting": args.class_weight,
        "class_weight": {CLASSIFIER_LABELS[i]: round(w, 3) for i, w in class_weight.items()},
        "crop_test_keras": crop_test,
        "history": {k: [round(float(v), 4) for v in vs] for k, vs in history.items()},
    }
    write_json(metrics, args.out / METRICS_FILE)
    print(f"crop test accuracy {crop_test['accuracy']:.4f} after {seconds:.0f} s")
    return metrics


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument("--source", action="append", dest="sources", metavar="KIND:PATH",
                        help=f"repeatable; default {' '.join(DEFAULT_SOURCES)}")  # fmt: skip
    parser.add_argument(
        "--train-only", action="append", metavar="KIND:PATH",
        help="repeatable: photos of one person (no boxes) added to training only, each cut "
        f"at the detector's most confident face (default {' '.join(DEFAULT_TRAIN_ONLY)})",
    )  # fmt: skip
    parser.add_argument("--no-train-only", dest="train_only", action="store_const", const=[],
                        help="no training-only photos")  # fmt: skip
    parser.add_argument("--label-map", type=Path, help="TOML: class name = maskwatch label")
    parser.add_argument("--split", type=Path, help="reuse this saved split instead of making one")
    parser.add_argument("--models-dir", type=Path, default=Path("../shared/models"))
    parser.add_argument("--out", type=Path, default=Path("models"))
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    parser.add_argument("--backbone", choices=BACKBONES, default="efficientnet_lite0_s5")
    parser.add_argument("--input-size", type=int, default=112)
    parser.add_argument("--crop-margin", type=float, default=0.2)
    parser.add_argument("--crops", choices=CROP_MODES, default="detector")
    parser.add_argument(
        "--synthetic-masks",
        type=float,
        default=0.5,
        metavar="FRACTION",
        help="paint masks on this fraction of no_mask crops (0: none)",
    )
    parser.add_argument(
        "--wrongly",
        type=float,
        default=0.3,
        metavar="SHARE",
        help="share of the painted masks worn wrongly (mask_incorrect)",
    )
    parser.add_argument(
        "--paint-skin-distance",
        type=float,
        default=25.0,
        metavar="DELTA_E",
        help="paint no mask colour within this CIE76 distance of the face's cheeks (0: any)",
    )
    parser.add_argument(
        "--crop-cache",
        type=Path,
        default=Path("build/crops"),
        help="where cut crops are kept between runs",
    )
    parser.add_argument("--no-deterministic", dest="deterministic", action="store_false",
                        help="allow TensorFlow's faster non-deterministic ops")  # fmt: skip
    parser.add_argument("--class-weight", choices=CLASS_WEIGHTINGS, default="sqrt")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--epochs", type=int, default=7)
    parser.add_argument("--warmup-epochs", type=int, default=2)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    args.sources = args.sources or list(DEFAULT_SOURCES)
    if args.train_only is None:
        args.train_only = list(DEFAULT_TRAIN_ONLY)
    return args


def main(argv: list[str] | None = None) -> None:
    try:
        train(parse_args(argv))
    except (DatasetError, OSError) as error:
        raise SystemExit(f"train: error: {error}") from None


if __name__ == "__main__":
    main()
