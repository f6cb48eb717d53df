"""Deduplicate scenes across sources, then split faces by scene group and save the split.

A face never lands on the other side of the split from its photo's other faces, nor
from another copy of the same photo in another source. The side is chosen by a hash
of the group id and the seed, so adding photos does not reshuffle those already placed.
"""

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from maskwatch.train.datasets import FaceSample

SPLITS = ("train", "val", "test")


def scene_split(key: str, seed: int, val: float = 0.15, test: float = 0.15) -> str:
    """Which split a scene group belongs to."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < test:
        return "test"
    if u < test + val:
        return "val"
    return "train"


def deduplicate(
    samples: list[FaceSample], groups: dict[str, str], source_order: Sequence[str]
) -> list[FaceSample]:
    """Keep one scene per duplicate group: the first by ``source_order``, then by id."""
    rank = {source: i for i, source in enumerate(source_order)}
    keeper: dict[str, tuple[int, str]] = {}
    for sample in samples:
        group = groups.get(sample.scene, sample.scene)
        candidate = (rank.get(sample.source, len(rank)), sample.scene)
        keeper[group] = min(keeper.get(group, candidate), candidate)
    kept = {scene for _, scene in keeper.values()}
    return [s for s in samples if s.scene in kept]


def split_samples(
    samples: list[FaceSample], seed: int, groups: dict[str, str] | None = None
) -> dict[str, list[FaceSample]]:
    """Group samples into train / val / test by scene group (by scene without ``groups``)."""
    groups = groups or {}
    out: dict[str, list[FaceSample]] = {name: [] for name in SPLITS}
    for sample in samples:
        out[scene_split(groups.get(sample.scene, sample.scene), seed)].append(sample)
    return out


def label_counts(split: dict[str, list[FaceSample]]) -> dict[str, dict[str, int]]:
    return {name: dict(sorted(Counter(s.label for s in split[name]).items())) for name in SPLITS}


def save_split(path: Path, split: dict[str, list[FaceSample]], seed: int) -> None:
    """Write the scenes of each split and their label counts as JSON."""
    payload = {
        "seed": seed,
        "scenes": {name: sorted({s.scene for s in split[name]}) for name in SPLITS},
        "label_counts": label_counts(split),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")


def load_split_scenes(path: Path) -> dict[str, set[str]]:
    """The scene ids of each split, as saved by :func:`save_split`."""
    data = json.loads(path.read_text())
    return {name: set(data["scenes"][name]) for name in SPLITS}


def apply_split(samples: list[FaceSample], path: Path) -> dict[str, list[FaceSample]]:
    """Re-use a saved split: each sample goes where its scene went; unknown scenes are dropped."""
    scenes = load_split_scenes(path)
    return {name: [s for s in samples if s.scene in scenes[name]] for name in SPLITS}
