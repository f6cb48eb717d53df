"""Assemble the model bundle: ``python -m convert.bundle --out bundle``.

Copies the int8 classifier, obtains the face detector (local model folder or
upstream, sha256 checked), writes ``manifest.json`` with every file's sha256, and
verifies the result with the same code the device runs at start.
"""

import argparse
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from convert.detector_files import YUNET, fetch
from convert.tflite import classifier_info
from edge.bundle import MANIFEST_FILE, Manifest, load_bundle, sha256_file
from edge.detectors import DEFAULT_DETECTOR
from edge.preprocess import PreprocessSpec


def build_bundle(
    classifier: Path, spec: PreprocessSpec, models_dir: Path | None, out: Path
) -> Manifest:
    """Write a complete, verified bundle directory at ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(classifier, out / classifier.name)
    fetch(YUNET, models_dir, out / YUNET.name)
    info = classifier_info(out / classifier.name, spec.input_size)
    files = {name: sha256_file(out / name) for name in sorted({info.file, YUNET.name})}
    manifest = Manifest(
        classifier=info,
        preprocess=spec,
        detector=DEFAULT_DETECTOR,
        files=files,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    (out / MANIFEST_FILE).write_text(manifest.to_json())
    load_bundle(out)
    return manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--classifier", type=Path, default=Path("models/mask_classifier_int8.tflite")
    )
    parser.add_argument("--metrics", type=Path, default=Path("models/metrics.json"))
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=Path("../shared/models"),
        help="local folder holding the detector weights",
    )
    parser.add_argument("--out", type=Path, default=Path("bundle"))
    args = parser.parse_args(argv)
    spec = PreprocessSpec(**json.loads(args.metrics.read_text())["preprocess"])
    manifest = build_bundle(args.classifier, spec, args.models_dir, args.out)
    print(f"bundle {args.out}: {', '.join(manifest.files)} verified")


if __name__ == "__main__":
    main()
