"""From dataset folders to a saved, deduplicated, scene-level split.

Sources are given as ``KIND:PATH`` (relative to the data root): ``voc``, ``yolo``,
``folders`` or ``csv``. Where one photo is in several sources, the copy from the
source listed first is kept.
"""

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from maskwatch.train.datasets import (
    DatasetError,
    FaceSample,
    read_class_folders,
    read_csv_boxes,
    read_voc_scenes,
    read_yolo_scenes,
)
from maskwatch.train.dedup import group_scenes
from maskwatch.train.label_transfer import carry_labels
from maskwatch.train.split import deduplicate, save_split, split_samples

SOURCE_READERS: dict[str, Callable[..., Iterator[FaceSample]]] = {
    "voc": read_voc_scenes,
    "yolo": read_yolo_scenes,
    "folders": read_class_folders,
    "csv": read_csv_boxes,
}
# The YOLO copies of the shared scenes have the higher resolution, so they go first.
DEFAULT_SOURCES = ("yolo:scenes-yolo", "voc:scenes-voc", "folders:crops")


def parse_source(text: str) -> tuple[str, str]:
    kind, sep, path = text.partition(":")
    if not sep or kind not in SOURCE_READERS or not path:
        raise DatasetError(
            f"source {text!r}: expected KIND:PATH with KIND one of {', '.join(SOURCE_READERS)}"
        )
    return kind, path


def read_sources(
    data_root: Path, sources: Sequence[str], label_map: dict[str, str] | None = None
) -> list[FaceSample]:
    """Every face of every source, in source order; a ``mask_incorrect`` face that one
    source marks is marked in the other sources' copies of its photo too."""
    samples: list[FaceSample] = []
    for text in sources:
        kind, relative = parse_source(text)
        path = data_root / relative
        if not path.exists():
            raise DatasetError(f"source {text!r}: {path} does not exist; check --data-root")
        samples.extend(SOURCE_READERS[kind](path, source=path.stem, label_map=label_map))
    return carry_labels(samples)


def prepare_split(
    data_root: Path,
    sources: Sequence[str],
    seed: int,
    split_file: Path,
    label_map: dict[str, str] | None = None,
) -> dict[str, list[FaceSample]]:
    """Read, deduplicate across sources by perceptual hash, split by scene group, save."""
    samples = read_sources(data_root, sources, label_map)
    groups = group_scenes(samples)
    order = [Path(parse_source(text)[1]).stem for text in sources]
    unique = deduplicate(samples, groups, order)
    split = split_samples(unique, seed, groups)
    save_split(split_file, split, seed)
    dropped = len({s.scene for s in samples}) - len({s.scene for s in unique})
    print(f"{len(samples)} faces in {len(sources)} sources; {dropped} duplicate scenes dropped")
    return split
