"""Checked-by-eye fixes to a split's annotations: ignore regions and label corrections.

The fixes live in a committed TOML file, one ``[[fix]]`` table each::

    [[fix]]
    scene = "scenes-yolo/test/some_photo"   # the FaceSample's scene id
    box = [x1, y1, x2, y2]                  # pixels of the photo
    kind = "ignore"                         # or "relabel"
    label = "mask"                          # relabel only: the corrected label
    reason = "a real face the annotators left out"

An ``ignore`` box is a real face the annotators left out: a prediction matched to it
counts neither way. A ``relabel`` box names an annotated face (its exact box) whose
label is plainly wrong. Annotations are never deleted.
"""

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path

from maskwatch.core.preprocess import Box
from maskwatch.train.datasets import DatasetError, FaceSample

KINDS = ("ignore", "relabel")
FIXABLE_LABELS = ("mask", "no_mask", "mask_incorrect")


@dataclass(frozen=True)
class AnnotationFix:
    scene: str
    box: Box
    kind: str
    reason: str
    label: str = ""  # the corrected label, for ``relabel``


@dataclass(frozen=True)
class FixedScenes:
    """Annotated faces per image with the corrections applied, and the ignore regions."""

    faces: dict[Path, list[FaceSample]]
    ignore: dict[Path, list[Box]]
    ignored: int
    relabelled: int


def _parse(entry: object, where: str) -> AnnotationFix:
    if not isinstance(entry, dict):
        raise DatasetError(f"{where}: expected a [[fix]] table")
    box = entry.get("box")
    if (
        not isinstance(box, list)
        or len(box) != 4
        or not all(isinstance(v, int) for v in box)
        or not (box[0] < box[2] and box[1] < box[3])
    ):
        raise DatasetError(f"{where}: box must be [x1, y1, x2, y2], integers, x1 < x2, y1 < y2")
    kind, label = entry.get("kind"), entry.get("label", "")
    if kind not in KINDS:
        raise DatasetError(f"{where}: kind {kind!r}; expected one of {', '.join(KINDS)}")
    if (kind == "relabel") != (label in FIXABLE_LABELS):
        raise DatasetError(
            f"{where}: label {label!r}; a relabel needs one of {', '.join(FIXABLE_LABELS)}, "
            "an ignore region none"
        )
    if not isinstance(entry.get("scene"), str) or not str(entry.get("reason", "")).strip():
        raise DatasetError(f"{where}: every fix needs a scene id and a reason")
    return AnnotationFix(entry["scene"], tuple(box), kind, entry["reason"], label)


def load_fixes(path: Path) -> list[AnnotationFix]:
    """Read and validate the fixes file; a bad entry raises :class:`DatasetError` naming it."""
    try:
        entries = tomllib.loads(path.read_text()).get("fix", [])
    except tomllib.TOMLDecodeError as error:
        raise DatasetError(f"{path}: not valid TOML ({error})") from None
    return [_parse(entry, f"{path} fix {i + 1}") for i, entry in enumerate(entries)]


def apply_fixes(
    by_image: dict[Path, list[FaceSample]], fixes: list[AnnotationFix], where: Path
) -> FixedScenes:
    """The scenes with ``fixes`` applied; a fix for an unknown scene or face raises."""
    images = {faces[0].scene: image for image, faces in by_image.items() if faces}
    faces = {image: list(samples) for image, samples in by_image.items()}
    ignore: dict[Path, list[Box]] = {}
    for fix in fixes:
        image = images.get(fix.scene)
        if image is None:
            raise DatasetError(f"{where}: scene {fix.scene!r} is not among the scored scenes")
        if fix.kind == "ignore":
            ignore.setdefault(image, []).append(fix.box)
            continue
        found = [i for i, face in enumerate(faces[image]) if face.box == fix.box]
        if not found:
            raise DatasetError(f"{where}: no annotated face at {list(fix.box)} in {fix.scene}")
        faces[image][found[0]] = dataclasses.replace(faces[image][found[0]], label=fix.label)
    relabelled = sum(fix.kind == "relabel" for fix in fixes)
    return FixedScenes(faces, ignore, len(fixes) - relabelled, relabelled)
