"""Split faces by scene, deterministically, and save the split for later reuse.

A face never lands on the other side of the split from its photo's other faces.
The side is chosen by a hash of the scene id and the seed, so adding photos does
not reshuffle the ones already placed.
"""

import hashlib
import json
from collections import Counter
from pathlib import Path

from train.datasets import FaceSample

SPLITS = ("train", "val", "test")


def scene_split(scene: str, seed: int, val: float = 0.15, test: float = 0.15) -> str:
    """Which split a scene belongs to."""
    digest = hashlib.sha256(f"{seed}:{scene}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < test:
        return "test"
    if u < test + val:
        return "val"
    return "train"


def split_samples(samples: list[FaceSample], seed: int) -> dict[str, list[FaceSample]]:
    """Group samples into train / val / test by scene."""
    out: dict[str, list[FaceSample]] = {name: [] for name in SPLITS}
    for sample in samples:
        out[scene_split(sample.scene, seed)].append(sample)
    return out


def save_split(path: Path, split: dict[str, list[FaceSample]], seed: int) -> None:
    """Write the scenes of each split and their label counts as JSON."""
    payload = {
        "seed": seed,
        "scenes": {name: sorted({s.scene for s in split[name]}) for name in SPLITS},
        "label_counts": {name: dict(Counter(s.label for s in split[name])) for name in SPLITS},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")


def load_split_scenes(path: Path) -> dict[str, set[str]]:
    """The scene ids of each split, as saved by :func:`save_split`."""
    data = json.loads(path.read_text())
    return {name: set(data["scenes"][name]) for name in SPLITS}
