"""Fine-tune YuNet on masked faces: ``python -m maskwatch.train.detector_train``
(``make detector``).

Starts from the shipped YuNet weights and trains only those weights (the graph, its
outputs and its cost per frame stay as they are) on the training scenes of the saved
split, with the targets of :mod:`maskwatch.train.detector_data` and the losses of
:mod:`maskwatch.train.detector_loss`. Every ``--eval-every`` steps the weights are written into the
ONNX graph and scored on the validation scenes through ``cv2.FaceDetectorYN`` at the
daemon's 320 px and the bundle's 640 px; the best file is kept. Checkpoints let an
interrupted run resume where it stopped. The result and its provenance (base weights'
sha256, training data, commit, validation figures) go to ``--out`` and a JSON beside it.
"""

import argparse
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from maskwatch.convert.bundle import source_commit
from maskwatch.core.bundle import sha256_file
from maskwatch.core.errors import MaskwatchError
from maskwatch.core.labels import MASK, NO_MASK
from maskwatch.train.annotation_fixes import FixedScenes, apply_fixes
from maskwatch.train.data import DEFAULT_SOURCES, read_sources
from maskwatch.train.datasets import DatasetError
from maskwatch.train.detector_data import (
    MAX_CROP_SIDE,
    MIN_CROP_SIDE,
    CropSampler,
    build_targets,
    load_targets,
    save_targets,
    summary,
)
from maskwatch.train.detector_report import (
    Detections,
    detection_figures,
    load_detector,
    run_detector,
)
from maskwatch.train.evaluate import scene_samples
from maskwatch.train.split import apply_split
from maskwatch.vision.detectors import ORIGINAL_YUNET

BASE_DETECTOR = ORIGINAL_YUNET.file
BASE_THRESHOLD = ORIGINAL_YUNET.score_threshold
FINE_TUNED = Path("models/face_detection_yunet_masks.onnx")


@dataclass(frozen=True)
class Settings:
    steps: int
    batch: int
    size: int
    learning_rate: float
    eval_every: int
    seed: int
    min_side: float  # the smallest long side a training photo is scaled to, px
    ema_decay: float  # exported weights: an exponential moving average; 0 = the last


def _targets(args: argparse.Namespace, base: Path) -> tuple[list, object, dict]:
    """Training targets, built once per (split, base detector) and cached in --work."""
    from maskwatch.train.synthetic_masks import MaskPainter

    samples = read_sources(args.data_root, DEFAULT_SOURCES)
    split = apply_split(samples, args.split)
    key = hashlib.sha256(args.split.read_bytes() + sha256_file(base).encode()).hexdigest()[:12]
    cache = args.work / f"targets-{key}"
    index = cache / "targets.json"
    if index.is_file():
        scenes, convention = load_targets(index)
    else:
        print("Building detector targets (original YuNet + painted masks) ...", flush=True)
        scenes, convention = build_targets(
            scene_samples(split["train"]), base, cache, MaskPainter(seed=args.seed)
        )
        save_targets(scenes, convention, index)
    return scenes, convention, scene_samples(split["val"])


SIZES = (320, 640)  # the daemon's default detection size and the bundle's
THRESHOLDS = tuple(float(t) for t in np.round(np.arange(0.3, 0.801, 0.025), 3))


def validation_detections(detector: Path, scenes: FixedScenes) -> dict[int, Detections]:
    """Per size, every validation photo's detections down to the report's sweep score."""
    photos = sorted(scenes.faces)
    return {size: run_detector(load_detector(detector, size), photos) for size in SIZES}


def figures_at(rows: dict[int, Detections], scenes: FixedScenes, threshold: float) -> dict:
    """Detection recall of masked and unmasked faces and false boxes, per size, scored by
    the scene rule (faces and unmatched boxes under 24 px count neither way)."""
    figures = {}
    for size, detections in rows.items():
        tally = detection_figures(detections, scenes, threshold)
        figures[str(size)] = {
            "recall": {label: round(tally.recall(label) or 0.0, 4) for label in (MASK, NO_MASK)},
            "false_positives": tally.false_positives,
            "faces": sum(tally.annotated.values()),
        }
    return figures


def selection_score(figures: dict) -> float:
    """Mean recall of masked and unmasked faces at 320 and 640, less false boxes per face."""
    recalls = [f["recall"][label] for f in figures.values() for label in ("mask", "no_mask")]
    false_rates = [f["false_positives"] / max(f["faces"], 1) for f in figures.values()]
    return float(np.mean(recalls) - np.mean(false_rates))


def choose_threshold(
    rows: dict[int, Detections], scenes: FixedScenes, budget: int
) -> tuple[float, dict]:
    """The score threshold with the best mean recall whose false boxes stay within ``budget``
    (the original detector's count at its threshold, on the same validation photos)."""
    best = None
    for threshold in THRESHOLDS:
        figures = figures_at(rows, scenes, threshold)
        if sum(f["false_positives"] for f in figures.values()) > budget:
            continue
        recall = np.mean([r for f in figures.values() for r in f["recall"].values()])
        if best is None or recall > best[0]:
            best = (recall, float(threshold), figures)
    if best is None:
        threshold = max(THRESHOLDS)
        return threshold, figures_at(rows, scenes, threshold)
    return best[1], best[2]


def move_average(averages: list, weights: list, decay: float) -> None:
    """One step of an exponential moving average: ``average <- decay x average +
    (1 - decay) x weight`` for each pair of TensorFlow variables."""
    for average, weight in zip(averages, weights, strict=True):
        average.assign(decay * average + (1 - decay) * weight)


def train_detector(args: argparse.Namespace, settings: Settings) -> dict:
    import tensorflow as tf

    from maskwatch.train.detector_loss import detector_loss
    from maskwatch.train.yunet_graph import YuNetGraph, concat_levels, prior_grid

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    base = args.models_dir / BASE_DETECTOR
    if not base.is_file():
        raise MaskwatchError(f"{base}: base YuNet weights not found; check --models-dir")
    scenes, convention, val_by_image = _targets(args, base)
    val = apply_fixes(val_by_image, [], args.split)  # the validation photos, as annotated

    def validate(detector: Path) -> dict:
        return figures_at(validation_detections(detector, val), val, BASE_THRESHOLD)

    graph, teacher = YuNetGraph(base), YuNetGraph(base)  # the teacher stays as shipped
    exported = YuNetGraph(base) if settings.ema_decay else graph  # what validation scores
    priors = tf.constant(prior_grid(settings.size, settings.size))
    schedule = tf.keras.optimizers.schedules.CosineDecay(
        settings.learning_rate * 0.1,
        settings.steps,
        alpha=0.02,
        warmup_target=settings.learning_rate,
        warmup_steps=min(100, settings.steps // 10),
    )
    optimizer = tf.keras.optimizers.Adam(schedule)
    step = tf.Variable(0, dtype=tf.int64)
    best = tf.Variable(-1e9, dtype=tf.float64)
    averaged = {"averaged": exported.weights} if settings.ema_decay else {}
    checkpoint = tf.train.Checkpoint(
        weights=graph.weights, optimizer=optimizer, step=step, best=best, **averaged
    )
    manager = tf.train.CheckpointManager(checkpoint, args.work / "checkpoints", max_to_keep=2)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint)
        print(f"Resuming at step {int(step)} of {settings.steps}", flush=True)

    @tf.function(reduce_retracing=True)
    def train_step(images, boxes, valid, landmarks, ignore, ignore_valid):  # noqa: ANN001, ANN202
        teacher_obj = tf.sigmoid(concat_levels(teacher(images))["obj"][..., 0])
        with tf.GradientTape() as tape:
            outputs = concat_levels(graph(images))
            losses = detector_loss(
                outputs, priors, boxes, valid, landmarks, ignore, ignore_valid, teacher_obj
            )
        gradients = tape.gradient(losses["total"], graph.trainable)
        gradients, _ = tf.clip_by_global_norm(gradients, 10.0)
        optimizer.apply_gradients(zip(gradients, graph.trainable, strict=True))
        if settings.ema_decay:
            move_average(exported.trainable, graph.trainable, settings.ema_decay)
        return losses

    candidate, best_file = args.work / "candidate.onnx", args.work / "best.onnx"
    if step > 0:
        history = json.loads((args.work / "history.json").read_text())
    else:  # the base weights are the first candidate: a fine-tune must beat them
        figures = validate(base)
        history = [{"step": 0, "score": round(selection_score(figures), 4), "val": figures}]
        best.assign(history[0]["score"])
        best_file.write_bytes(base.read_bytes())
        print(f"base weights, validation: {json.dumps(figures)}", flush=True)
    progress = tf.keras.utils.Progbar(settings.steps, stateful_metrics=["positives"])
    progress.update(int(step))
    while int(step) < settings.steps:
        # Seeded by step, so a resumed run draws what the uninterrupted one would have.
        sampler = CropSampler(
            scenes, settings.size, settings.min_side, seed=settings.seed * 100003 + int(step)
        )
        for _ in range(settings.eval_every - int(step) % settings.eval_every):
            batch = sampler.sample(settings.batch)
            losses = train_step(
                batch.images,
                batch.boxes,
                batch.box_valid,
                batch.landmarks,
                batch.ignore,
                batch.ignore_valid,
            )
            step.assign_add(1)
            progress.update(int(step), [(k, float(v)) for k, v in losses.items()])
        exported.export(candidate)
        figures = validate(candidate)
        score = selection_score(figures)
        history.append({"step": int(step), "score": round(score, 4), "val": figures})
        if score > float(best.numpy()):
            best.assign(score)
            best_file.write_bytes(candidate.read_bytes())
        (args.work / "history.json").write_text(json.dumps(history, indent=1))
        manager.save()
        print(
            f"\nstep {int(step)}: val recall masked/unmasked "
            + ", ".join(
                f"{size}: {f['recall']['mask']:.3f}/{f['recall']['no_mask']:.3f} "
                f"({f['false_positives']} false)"
                for size, f in figures.items()
            ),
            flush=True,
        )

    provenance = {
        "file": args.out.name,
        "base": {"file": BASE_DETECTOR, "sha256": sha256_file(base)},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "source_commit": source_commit(),
        "training_data": summary(scenes, convention) | {"split": str(args.split)},
        "settings": settings.__dict__,
        "chosen_step": max(history, key=lambda row: row["score"])["step"],
    }
    provenance |= settle_threshold(base, best_file, val)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(best_file.read_bytes())
    provenance["sha256"] = sha256_file(args.out)
    args.out.with_suffix(".json").write_text(json.dumps(provenance, indent=1) + "\n")
    return provenance


def settle_threshold(base: Path, chosen: Path, val: FixedScenes) -> dict:
    """The fine-tuned file's score threshold, chosen on the validation photos so that it
    shows no more false boxes than the original at its own threshold, and both figures."""
    original = figures_at(validation_detections(base, val), val, BASE_THRESHOLD)
    budget = sum(f["false_positives"] for f in original.values())
    threshold, figures = choose_threshold(validation_detections(chosen, val), val, budget)
    return {
        "score_threshold": threshold,
        "validation": {"fine_tuned": figures, f"original_at_{BASE_THRESHOLD}": original},
    }


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, Settings]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--models-dir", type=Path, default=Path("../shared/models"))
    parser.add_argument("--split", type=Path, default=Path("models/split.json"))
    parser.add_argument("--out", type=Path, default=FINE_TUNED)
    parser.add_argument("--work", type=Path, default=Path("build/detector"))
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=320, help="square training crops, px")
    parser.add_argument("--min-side", type=float, default=MIN_CROP_SIDE,
                        help="smallest long side a photo is scaled to for a crop, px")  # fmt: skip
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--ema-decay", type=float, default=0.0,
                        help="export a moving average of the weights; 0: the last")  # fmt: skip
    parser.add_argument("--eval-every", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    if args.size % 32:
        parser.error("--size must be a multiple of 32")
    if not 0.0 <= args.ema_decay < 1.0:
        parser.error("--ema-decay must be from 0 (off) up to, not including, 1")
    if not 64 <= args.min_side < MAX_CROP_SIDE:
        parser.error(f"--min-side must be from 64 up to {MAX_CROP_SIDE} px (the largest scale)")
    settings = Settings(
        args.steps, args.batch, args.size, args.learning_rate, args.eval_every, args.seed,
        args.min_side, args.ema_decay,
    )  # fmt: skip
    return args, settings


def main(argv: list[str] | None = None) -> None:
    args, settings = parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    try:
        provenance = train_detector(args, settings)
    except (DatasetError, MaskwatchError, OSError) as error:
        raise SystemExit(f"maskwatch.train.detector_train: error: {error}") from None
    val = provenance["validation"]
    print(
        f"{args.out}: step {provenance['chosen_step']}, score threshold "
        f"{provenance['score_threshold']}, validation: {json.dumps(val)}"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
