"""The model bundle: one directory with the classifier, the face detector and a manifest.

``manifest.json`` describes how to run the models and lists the sha256 of every file.
:func:`load_bundle` refuses a bundle whose files are missing or differ from the
manifest, with one line naming the file, so a broken deploy never runs.
"""

import atexit
import hashlib
import json
import shutil
import tarfile
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from maskwatch.core.errors import BundleError
from maskwatch.core.preprocess import PreprocessSpec

MANIFEST_FILE = "manifest.json"
LABELS_FILE = "labels"  # one label per line, in the classifier's output order
FORMAT_NAME = "maskwatch-bundle"
FORMAT_VERSION = 1
REBUILD_HINT = "rebuild it with 'make bundle'"


@dataclass(frozen=True)
class ClassifierInfo:
    file: str
    labels: tuple[str, ...]
    input_size: int
    dtype: str  # input tensor type: "int8", "uint8" or "float32"
    input_scale: float = 0.0
    input_zero_point: int = 0


@dataclass(frozen=True)
class DetectorInfo:
    kind: str  # key into maskwatch.vision.detectors.DETECTORS
    file: str
    score_threshold: float
    nms_threshold: float = 0.3
    max_side: int = 640  # frames are downscaled so their longest side is at most this
    min_side: int = 0  # and upscaled so it is at least this (0: never upscale)
    config_file: str = ""  # a second file some kinds need (res10's Caffe prototxt)
    # (dx, dy, scale_w, scale_h) from this detector's boxes to the boxes the classifier's
    # training crops were cut around (preprocess.BoxConvention); empty: the same boxes.
    crop_convention: tuple[float, ...] = ()


@dataclass(frozen=True)
class Manifest:
    classifier: ClassifierInfo
    preprocess: PreprocessSpec
    detector: DetectorInfo
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    created: str = ""
    source_commit: str = ""
    training_data: dict = field(default_factory=dict)  # sources, seed, faces per split
    evaluation: dict = field(default_factory=dict)  # crop and scene figures of this bundle
    detector_provenance: dict = field(default_factory=dict)  # a fine-tuned detector's origin
    format: str = FORMAT_NAME
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True) + "\n"


@dataclass(frozen=True)
class Bundle:
    """A verified bundle on disk."""

    root: Path
    manifest: Manifest

    def path_of(self, name: str) -> Path:
        return self.root / name


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise BundleError(f"{where}: expected an object, found {type(data).__name__}")
    try:
        return cls(**data)
    except (TypeError, ValueError) as error:
        raise BundleError(f"{where}: {error}") from None


def read_text(path: Path) -> str:
    """A bundle's text file, or one line when the card garbled it into non-UTF-8 bytes."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise BundleError(
            f"{path}: not UTF-8 text (byte {error.start}), the file is corrupted; {REBUILD_HINT}"
        ) from None


def _object(data: dict, key: str, where: str) -> dict:
    """``data[key]`` as a JSON object (empty when absent), else one line naming the key."""
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise BundleError(
            f"{where}: {key} must be an object, found {type(value).__name__}; {REBUILD_HINT}"
        )
    return value


def _checksums(data: dict, where: str) -> dict[str, str]:
    files = _object(data, "files", where)
    for name, digest in files.items():
        if not isinstance(digest, str):
            raise BundleError(f"{where}: files.{name} must be a sha256 string; {REBUILD_HINT}")
    return dict(files)


def _labels(classifier: dict, where: str) -> tuple[str, ...]:
    labels = classifier.get("labels") or ()
    if not isinstance(labels, list) or not all(isinstance(v, str) for v in labels):
        raise BundleError(f"{where}: classifier.labels must be a list of strings; {REBUILD_HINT}")
    return tuple(labels)


def parse_manifest(text: str, where: str) -> Manifest:
    """Validate a manifest's JSON; raise :class:`BundleError` naming the problem."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise BundleError(f"{where}: not valid JSON ({error}); {REBUILD_HINT}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise BundleError(f"{where}: not a maskwatch bundle manifest; {REBUILD_HINT}")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(
            f"{where}: bundle format version {version!r}, this maskwatch reads "
            f"{FORMAT_VERSION}; {REBUILD_HINT} or upgrade maskwatch"
        )
    classifier = dict(_object(data, "classifier", where))
    classifier["labels"] = _labels(classifier, where)
    detector = dict(_object(data, "detector", where))
    convention = detector.get("crop_convention") or ()
    if not isinstance(convention, list | tuple):
        raise BundleError(f"{where}: detector.crop_convention must be a list; {REBUILD_HINT}")
    detector["crop_convention"] = tuple(convention)
    return Manifest(
        classifier=_build(ClassifierInfo, classifier, f"{where} classifier"),
        preprocess=_build(PreprocessSpec, data.get("preprocess"), f"{where} preprocess"),
        detector=_build(DetectorInfo, detector, f"{where} detector"),
        files=_checksums(data, where),
        created=str(data.get("created", "")),
        source_commit=str(data.get("source_commit", "")),
        training_data=_object(data, "training_data", where),
        evaluation=_object(data, "evaluation", where),
        detector_provenance=_object(data, "detector_provenance", where),
    )


def verify_files(root: Path, manifest: Manifest) -> None:
    """Check that every file the manifest names or lists exists with its sha256."""
    needed = {manifest.classifier.file, manifest.detector.file, manifest.detector.config_file}
    needed.discard("")
    unlisted = sorted(needed - manifest.files.keys())
    if unlisted:
        raise BundleError(f"{root / MANIFEST_FILE}: no checksum for {unlisted[0]}; {REBUILD_HINT}")
    for name, expected in sorted(manifest.files.items()):
        path = root / name
        if Path(name).name != name:
            raise BundleError(f"{root / MANIFEST_FILE}: file name {name!r} is not a plain name")
        if not path.is_file():
            raise BundleError(f"{path}: missing from the bundle; {REBUILD_HINT}")
        found = sha256_file(path)
        if found != expected:
            raise BundleError(
                f"{path}: sha256 {found[:12]}... does not match the manifest's "
                f"{expected[:12]}...; the file is corrupted or was replaced, {REBUILD_HINT}"
            )


def verify_labels(root: Path, manifest: Manifest) -> None:
    """The ``labels`` file, when the bundle has one, lists the classifier's labels in order."""
    if LABELS_FILE not in manifest.files:
        return
    found = tuple(read_text(root / LABELS_FILE).split())
    if found != manifest.classifier.labels:
        raise BundleError(
            f"{root / LABELS_FILE}: labels {found} differ from the manifest's "
            f"{manifest.classifier.labels}; {REBUILD_HINT}"
        )


def unpack(archive: Path) -> Path:
    """Extract a ``.tar.gz`` bundle to a private folder removed when the process exits."""
    target = Path(tempfile.mkdtemp(prefix="maskwatch-bundle-"))
    atexit.register(shutil.rmtree, target, ignore_errors=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(target, filter="data")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise BundleError(f"{archive}: not a readable .tar.gz bundle ({error})") from None
    return target


def load_bundle(path: Path) -> Bundle:
    """Read and verify a bundle: a directory, or the same as a ``.tar.gz`` file."""
    root = unpack(path) if path.is_file() and path.name.endswith(".tar.gz") else path
    manifest_path = root / MANIFEST_FILE
    if not manifest_path.is_file():
        where = path if root == path else f"{path} (archive)"
        raise BundleError(f"{where}: no bundle manifest {MANIFEST_FILE}; {REBUILD_HINT}")
    manifest = parse_manifest(read_text(manifest_path), str(manifest_path))
    verify_files(root, manifest)
    verify_labels(root, manifest)
    return Bundle(root, manifest)
