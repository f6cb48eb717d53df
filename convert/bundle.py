"""Assemble the model bundle: ``python -m maskwatch.convert.bundle --out bundle [--tar]``.

Copies the int8 classifier, obtains the face detector (local model folder or
upstream, sha256 checked), writes ``labels`` and ``manifest.json`` (how to run the
models, the training data, the evaluation figures, the sha256 of every file), verifies
the result with the same code the device runs at start, and optionally packs the same
bundle as one ``.tar.gz``.
"""

import argparse
import json
import shutil
import subprocess
import tarfile
from dataclasses import astuple, replace
from datetime import UTC, datetime
from pathlib import Path

from maskwatch.convert.classifier_entry import classifier_info
from maskwatch.convert.detector_files import FetchError, obtain_detector
from maskwatch.core.bundle import (
    LABELS_FILE,
    MANIFEST_FILE,
    BundleError,
    DetectorInfo,
    Manifest,
    load_bundle,
    sha256_file,
)
from maskwatch.core.preprocess import BoxConvention, PreprocessSpec
from maskwatch.vision.detectors import DEFAULT_DETECTOR, MASKS_YUNET, ORIGINAL_YUNET, RES10_DETECTOR

DETECTOR_CHOICES = {"yunet-masks": MASKS_YUNET, "yunet": ORIGINAL_YUNET, "res10": RES10_DETECTOR}
DEFAULT_CHOICE = next(name for name, info in DETECTOR_CHOICES.items() if info == DEFAULT_DETECTOR)


def source_commit() -> str:
    """The git commit the bundle was built from, ``-dirty`` with uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return ""
    return commit + ("-dirty" if dirty.stdout.strip() else "")


def training_summary(metrics: dict) -> dict:
    keys = ("backbone", "sources", "seed", "crops", "faces", "label_counts", "synthetic_masks",
            "calibration")  # fmt: skip
    return {key: metrics[key] for key in keys if key in metrics}


def evaluation_summary(int8_report: dict | None, scene: dict | None) -> dict:
    summary = {}
    if int8_report:
        summary["crop_test_int8_accuracy"] = int8_report["accuracy"]
        summary["crop_test_keras_accuracy"] = int8_report.get("keras_accuracy")
    if scene:
        summary["scene_test_images"] = scene["images"]
        summary["scene_test_f1"] = {k: v["f1"] for k, v in scene["per_label"].items()}
        summary["scene_test_detection_recall"] = {
            k: v["recall"] for k, v in scene["detection_recall"].items()
        }
    return summary


def build_bundle(
    classifier: Path,
    spec: PreprocessSpec,
    models_dir: Path | None,
    out: Path,
    training_data: dict | None = None,
    evaluation: dict | None = None,
    detector: DetectorInfo = DEFAULT_DETECTOR,
) -> Manifest:
    """Write a complete, verified bundle directory at ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(classifier, out / classifier.name)
    detector_names, provenance = obtain_detector(detector.file, models_dir, out)
    if provenance:  # a fine-tuned file: its own threshold, chosen on validation, and the
        # map back to the original YuNet's boxes, around which the classifier's crops were cut
        convention = BoxConvention(**provenance["training_data"]["box_convention"])
        detector = replace(
            detector,
            score_threshold=provenance["score_threshold"],
            crop_convention=astuple(convention.inverse()),
        )
    info = classifier_info(out / classifier.name, spec.input_size)
    (out / LABELS_FILE).write_text("\n".join(info.labels) + "\n")
    names = sorted({info.file, LABELS_FILE, *detector_names})
    manifest = Manifest(
        classifier=info,
        preprocess=spec,
        detector=detector,
        files={name: sha256_file(out / name) for name in names},
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        source_commit=source_commit(),
        training_data=training_data or {},
        evaluation=evaluation or {},
        detector_provenance=provenance,
    )
    (out / MANIFEST_FILE).write_text(manifest.to_json())
    load_bundle(out)
    return manifest


def pack(bundle_dir: Path, archive: Path) -> Path:
    """The bundle's files (those of the manifest, and the manifest) as one ``.tar.gz``."""
    manifest = load_bundle(bundle_dir).manifest
    with tarfile.open(archive, "w:gz") as tar:
        for name in [MANIFEST_FILE, *manifest.files]:
            tar.add(bundle_dir / name, arcname=name)
    load_bundle(archive)
    return archive


def _read_json(path: Path | None) -> dict | None:
    return json.loads(path.read_text()) if path and path.is_file() else None


def main(argv: list[str] | None = None) -> None:
    try:
        _main(argv)
    except (FetchError, BundleError, OSError) as error:
        raise SystemExit(f"maskwatch.convert.bundle: error: {error}") from None


def _main(argv: list[str] | None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--classifier", type=Path, default=Path("models/mask_classifier_int8.tflite")
    )
    parser.add_argument("--metrics", type=Path, default=Path("models/metrics.json"))
    parser.add_argument(
        "--scene-report", type=Path, default=Path("reports/scene_evaluation.json"),
        help="evaluation figures to record in the manifest, if present",
    )  # fmt: skip
    parser.add_argument("--models-dir", type=Path, default=Path("../shared/models"),
                        help="local folder holding the detector weights")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("bundle"))
    parser.add_argument("--tar", type=Path, help="also write the bundle as this .tar.gz")
    parser.add_argument(
        "--detector", choices=sorted(DETECTOR_CHOICES), default=DEFAULT_CHOICE,
        help="yunet-masks: fine-tuned on masked faces (models/); yunet: as OpenCV ships "
        "it; res10: the seeds' SSD, to move an old deployment",
    )  # fmt: skip
    args = parser.parse_args(argv)
    metrics = json.loads(args.metrics.read_text())
    evaluation = evaluation_summary(
        _read_json(args.classifier.with_suffix(".json")), _read_json(args.scene_report)
    )
    manifest = build_bundle(
        args.classifier, PreprocessSpec(**metrics["preprocess"]), args.models_dir, args.out,
        training_summary(metrics), evaluation,
        DETECTOR_CHOICES[args.detector],
    )  # fmt: skip
    print(f"bundle {args.out}: {', '.join(manifest.files)} verified")
    if args.tar:
        print(f"bundle archive {pack(args.out, args.tar)} verified")


if __name__ == "__main__":
    main()
