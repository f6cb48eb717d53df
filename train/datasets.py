"""Read annotated faces from the dataset layouts maskwatch supports.

Each face becomes a :class:`FaceSample` that names its scene (the photo it came
from), so splits can keep every face of a photo on the same side.
"""

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from edge.labels import MASK, MASK_INCORRECT, NO_MASK
from edge.preprocess import Box

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

# Dataset class names -> maskwatch labels.
LABEL_ALIASES: dict[str, str] = {
    "with_mask": MASK,
    "mask": MASK,
    "without_mask": NO_MASK,
    "no_mask": NO_MASK,
    "mask_weared_incorrect": MASK_INCORRECT,
    "mask_worn_incorrectly": MASK_INCORRECT,
}


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


def canonical_label(name: str, where: Path) -> str:
    """Map a dataset's class name to a maskwatch label, or refuse it by name."""
    try:
        return LABEL_ALIASES[name.strip().lower()]
    except KeyError:
        known = ", ".join(sorted(LABEL_ALIASES))
        raise DatasetError(f"{where}: unknown class {name!r}; known classes: {known}") from None


def read_voc_scenes(root: Path, source: str = "scenes-voc") -> Iterator[FaceSample]:
    """PASCAL VOC: ``annotations/*.xml`` beside ``images/``, one XML per photo."""
    annotations = root / "annotations"
    if not annotations.is_dir():
        raise DatasetError(f"{root}: no annotations/ folder; expected a PASCAL VOC layout")
    for xml_path in sorted(annotations.glob("*.xml")):
        tree = ET.parse(xml_path)
        filename = tree.findtext("filename") or xml_path.with_suffix(".jpg").name
        image = root / "images" / Path(filename).with_suffix(".jpg").name
        if not image.exists():
            image = root / "images" / filename
        for obj in tree.iterfind("object"):
            bndbox = obj.find("bndbox")
            if bndbox is None:
                raise DatasetError(f"{xml_path}: an <object> has no <bndbox>")
            x1, y1, x2, y2 = (
                int(float(bndbox.findtext(tag, "nan"))) for tag in ("xmin", "ymin", "xmax", "ymax")
            )
            yield FaceSample(
                image=image,
                box=(x1, y1, x2 + 1, y2 + 1),  # VOC corners are inclusive
                label=canonical_label(obj.findtext("name", ""), xml_path),
                scene=f"{source}/{xml_path.stem}",
                source=source,
            )


def read_class_folders(root: Path, source: str = "crops") -> Iterator[FaceSample]:
    """Folder per class (``with_mask/``, ``without_mask/``): each image is one face."""
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    if not folders:
        raise DatasetError(f"{root}: no class folders; expected e.g. with_mask/ and without_mask/")
    for folder in folders:
        label = canonical_label(folder.name, folder)
        for image in sorted(folder.iterdir()):
            if image.suffix.lower() in IMAGE_SUFFIXES:
                yield FaceSample(image, None, label, f"{source}/{image.stem}", source)
