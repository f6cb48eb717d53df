"""Read annotated faces from the dataset layouts maskwatch supports.

Each face becomes a :class:`FaceSample` that names its scene (the photo it came
from), so splits can keep every face of a photo on the same side.
"""

import csv
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2

from maskwatch.core.labels import MASK, MASK_INCORRECT, NO_MASK
from maskwatch.core.preprocess import Box

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

IGNORE = "ignore"  # an annotated object that is not a face (a loose mask, a hat)

# Dataset class names -> maskwatch labels; extend with a label map (``--label-map``).
LABEL_ALIASES: dict[str, str] = {
    "with_mask": MASK,
    "mask": MASK,
    "face_with_mask": MASK,
    "without_mask": NO_MASK,
    "no_mask": NO_MASK,
    "nomask": NO_MASK,
    "face_no_mask": NO_MASK,
    "mask_weared_incorrect": MASK_INCORRECT,
    "mask_worn_incorrectly": MASK_INCORRECT,
    "face_with_mask_incorrect": MASK_INCORRECT,
    # Objects, not faces, in the Kaggle "Face Mask Detection Dataset" CSV.
    "mask_colorful": IGNORE,
    "mask_surgical": IGNORE,
}
LABELS_ACCEPTED = (MASK, NO_MASK, MASK_INCORRECT, IGNORE)


class DatasetError(ValueError):
    """A dataset file is malformed or uses a class name maskwatch does not know."""


@dataclass(frozen=True)
class FaceSample:
    """One annotated face. ``box`` is None when the whole image is the face."""

    image: Path
    box: Box | None
    label: str
    scene: str  # photo identity: source name + file stem
    source: str


def load_label_map(path: Path) -> dict[str, str]:
    """A TOML table ``class_name = "mask" | "no_mask" | "mask_incorrect" | "ignore"``."""
    try:
        table = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise DatasetError(f"label map {path}: {error}") from None
    for name, label in table.items():
        if label not in LABELS_ACCEPTED:
            raise DatasetError(
                f"label map {path}: {name!r} maps to {label!r}; expected one of "
                + ", ".join(LABELS_ACCEPTED)
            )
    return {name.strip().lower(): label for name, label in table.items()}


def canonical_label(name: str, where: Path, extra: dict[str, str] | None = None) -> str:
    """Map a dataset's class name to a maskwatch label, or refuse it by name."""
    key = name.strip().lower()
    aliases = {**LABEL_ALIASES, **(extra or {})}
    if key not in aliases:
        known = ", ".join(sorted(aliases))
        raise DatasetError(
            f"{where}: unknown class {name!r}; map it in a label map file (--label-map) "
            f"or use one of: {known}"
        )
    return aliases[key]


def _face(image: Path, box: Box | None, label: str, scene: str, source: str) -> FaceSample | None:
    return None if label == IGNORE else FaceSample(image, box, label, scene, source)


def read_voc_scenes(
    root: Path, source: str = "scenes-voc", label_map: dict[str, str] | None = None
) -> Iterator[FaceSample]:
    """PASCAL VOC: ``annotations/*.xml`` beside ``images/``, one XML per photo."""
    annotations = root / "annotations"
    if not annotations.is_dir():
        raise DatasetError(f"{root}: no annotations/ folder; expected a PASCAL VOC layout")
    for xml_path in sorted(annotations.glob("*.xml")):
        try:
            tree = ET.parse(xml_path)
        except ET.ParseError as error:
            raise DatasetError(f"{xml_path}: not valid XML ({error})") from None
        filename = tree.findtext("filename") or xml_path.with_suffix(".jpg").name
        image = root / "images" / Path(filename).with_suffix(".jpg").name
        if not image.exists():
            image = root / "images" / filename
        for obj in tree.iterfind("object"):
            bndbox = obj.find("bndbox")
            if bndbox is None:
                raise DatasetError(f"{xml_path}: an <object> has no <bndbox>")
            try:
                x1, y1, x2, y2 = (
                    int(float(bndbox.findtext(tag, ""))) for tag in ("xmin", "ymin", "xmax", "ymax")
                )
            except ValueError:
                raise DatasetError(f"{xml_path}: a <bndbox> lacks a numeric corner") from None
            label = canonical_label(obj.findtext("name", ""), xml_path, label_map)
            # VOC corners are inclusive.
            face = _face(
                image, (x1, y1, x2 + 1, y2 + 1), label, f"{source}/{xml_path.stem}", source
            )
            if face:
                yield face


def read_class_folders(
    root: Path, source: str = "crops", label_map: dict[str, str] | None = None
) -> Iterator[FaceSample]:
    """Folder per class (``with_mask/``, ``without_mask/``): each image is one face."""
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    if not folders:
        raise DatasetError(f"{root}: no class folders; expected e.g. with_mask/ and without_mask/")
    for folder in folders:
        label = canonical_label(folder.name, folder, label_map)
        for image in sorted(folder.iterdir()):
            if image.suffix.lower() in IMAGE_SUFFIXES:
                face = _face(image, None, label, f"{source}/{image.stem}", source)
                if face:
                    yield face


# Class ids of the YOLO face-mask-detector set (adityap27): 0 = no mask, 1 = mask.
YOLO_CLASSES = ("no_mask", "mask")


def read_yolo_scenes(
    root: Path,
    source: str = "scenes-yolo",
    label_map: dict[str, str] | None = None,
    classes: tuple[str, ...] = YOLO_CLASSES,
) -> Iterator[FaceSample]:
    """YOLO txt beside each image (``class cx cy w h``, relative), in any sub-folders."""
    images = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise DatasetError(f"{root}: no images; expected images with YOLO .txt beside them")
    for image in images:
        label_file = image.with_suffix(".txt")
        if not label_file.is_file():
            continue
        size = imagesize(image)
        for number, line in enumerate(label_file.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                class_id, cx, cy, w, h = line.split()
                cls, cx, cy, w, h = int(class_id), float(cx), float(cy), float(w), float(h)
                name = classes[cls]
            except (ValueError, IndexError):
                raise DatasetError(
                    f"{label_file}:{number}: expected 'class cx cy w h' with a class id "
                    f"below {len(classes)}, found {line!r}"
                ) from None
            width, height = size
            box = (
                max(0, round((cx - w / 2) * width)),
                max(0, round((cy - h / 2) * height)),
                min(width, round((cx + w / 2) * width)),
                min(height, round((cy + h / 2) * height)),
            )
            label = canonical_label(name, label_file, label_map)
            scene = f"{source}/{image.relative_to(root).with_suffix('')}"
            face = _face(image, box, label, scene, source)
            if face and box[2] > box[0] and box[3] > box[1]:
                yield face


CSV_IMAGE_COLUMNS = ("name", "image", "filename", "file")
CSV_CLASS_COLUMNS = ("classname", "class", "label")
CSV_DEFAULT_HEADER = ("name", "x1", "x2", "y1", "y2", "classname")  # Kaggle's train.csv


def read_csv_boxes(
    csv_path: Path,
    images: Path | None = None,
    source: str = "csv",
    label_map: dict[str, str] | None = None,
) -> Iterator[FaceSample]:
    """One row per box: image name, corners, class (Kaggle "Face Mask Detection Dataset").

    The header names the columns (``x1 x2 y1 y2`` or ``xmin ymin xmax ymax``); a file
    without a header is read as ``name, x1, x2, y1, y2, classname``. Images are looked
    up in ``images`` (default: an ``images/`` folder beside the CSV).
    """
    images = images or csv_path.parent / "images"
    with csv_path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise DatasetError(f"{csv_path}: empty CSV")
    header = [c.strip().lower() for c in rows[0]]
    if {"x1", "xmin"} & set(header):
        rows = rows[1:]
    else:
        header = list(CSV_DEFAULT_HEADER)

    def column(names: tuple[str, ...]) -> int:
        for name in names:
            if name in header:
                return header.index(name)
        raise DatasetError(f"{csv_path}: no column named any of {', '.join(names)}")

    name_col, class_col = column(CSV_IMAGE_COLUMNS), column(CSV_CLASS_COLUMNS)
    corners = [
        column((a, b)) for a, b in (("x1", "xmin"), ("y1", "ymin"), ("x2", "xmax"), ("y2", "ymax"))
    ]
    for number, row in enumerate(rows, 2):
        try:
            x1, y1, x2, y2 = (int(float(row[c])) for c in corners)
            name, cls = row[name_col].strip(), row[class_col]
        except (ValueError, IndexError):
            raise DatasetError(f"{csv_path}:{number}: malformed row {row!r}") from None
        label = canonical_label(cls, csv_path, label_map)
        face = _face(images / name, (x1, y1, x2, y2), label, f"{source}/{Path(name).stem}", source)
        if face and x2 > x1 and y2 > y1:
            yield face


def imagesize(path: Path) -> tuple[int, int]:
    """Width and height of an image file."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(f"{path}: not a readable image")
    return image.shape[1], image.shape[0]
