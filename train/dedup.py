"""Find the same photo across sources by perceptual hash, so a split cannot leak.

pHash: the sign of the low-frequency DCT of a 32x32 grey thumbnail against its
median, 64 bits. A rescaled or re-encoded copy of a photo stays within a few bits;
different photos differ in about half of them.
"""

import functools
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from maskwatch.train.datasets import FaceSample


@functools.cache
def phash(path: Path) -> int:
    """The 64-bit perceptual hash of an image file (cached for the life of the process)."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ValueError(f"{path}: not a readable image")
    thumb = cv2.resize(image, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(thumb)[:8, :8].flatten()
    bits = low > np.median(low[1:])
    return int(np.packbits(bits).view(">u8")[0])


def duplicate_groups(hashes: dict[str, int], max_distance: int = 6) -> dict[str, str]:
    """Map every key to its group's representative: keys whose hashes differ in at most
    ``max_distance`` bits are one group (transitively)."""
    keys = sorted(hashes)
    values = np.array([hashes[k] for k in keys], dtype=np.uint64)
    parent = list(range(len(keys)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(keys) - 1):
        xor = values[i + 1 :] ^ values[i]
        distance = np.unpackbits(xor.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
        for j in np.flatnonzero(distance <= max_distance):
            a, b = root(i), root(i + 1 + int(j))
            if a != b:
                parent[max(a, b)] = min(a, b)
    return {key: keys[root(i)] for i, key in enumerate(keys)}


def group_scenes(samples: Iterable[FaceSample], max_distance: int = 6) -> dict[str, str]:
    """Scene id -> the id of the group of scenes that show the same photo."""
    first_image: dict[str, Path] = {}
    for sample in samples:
        first_image.setdefault(sample.scene, sample.image)
    hashes = {scene: phash(image) for scene, image in first_image.items()}
    return duplicate_groups(hashes, max_distance)
