"""Leak-free splits: copies of a photo across sources stay on one side."""

import json

import cv2
import pytest

from maskwatch.train.data import DEFAULT_SOURCES, prepare_split, read_sources
from maskwatch.train.dedup import duplicate_groups, group_scenes, phash
from maskwatch.train.split import SPLITS, load_split_scenes
from tests.conftest import SPLIT


def test_phash_sees_a_rescaled_reencoded_copy_and_not_another_photo(data_root, tmp_path):
    images = data_root / "scenes-voc" / "images"
    original = images / "maksssksksss0.jpg"
    copy = tmp_path / "copy.jpg"
    image = cv2.imread(str(original))
    cv2.imwrite(str(copy), cv2.resize(image, None, fx=1.7, fy=1.7), [cv2.IMWRITE_JPEG_QUALITY, 60])
    distance = lambda a, b: bin(phash(a) ^ phash(b)).count("1")  # noqa: E731
    assert distance(original, copy) <= 6
    assert distance(original, images / "maksssksksss1.jpg") > 12


def test_duplicate_groups_are_transitive():
    groups = duplicate_groups({"a": 0b0, "b": 0b111, "c": 0b111111, "d": 2**64 - 1}, max_distance=3)
    assert groups["a"] == groups["b"] == groups["c"] != groups["d"]


@pytest.fixture(scope="module")
def shared_scenes(data_root):
    return read_sources(data_root, DEFAULT_SOURCES)


def test_the_voc_copies_of_yolo_scenes_are_found(shared_scenes):
    groups = group_scenes(shared_scenes)
    members: dict[str, set[str]] = {}
    for scene, group in groups.items():
        members.setdefault(group, set()).add(scene.split("/")[0])
    cross = sum(1 for sources in members.values() if {"scenes-voc", "scenes-yolo"} <= sources)
    assert 600 <= cross <= 700  # the dataset README: about 650 shared photos


def test_the_committed_split_is_deduplicated_and_reproducible(shared_scenes, data_root, tmp_path):
    """Today's code makes exactly the committed split, and no photo has copies on two sides."""
    split = prepare_split(data_root, DEFAULT_SOURCES, 1234, tmp_path / "split.json")
    assert load_split_scenes(tmp_path / "split.json") == load_split_scenes(SPLIT)
    groups = group_scenes(shared_scenes)
    side_of_group: dict[str, str] = {}
    for name in SPLITS:
        for sample in split[name]:
            group = groups[sample.scene]
            assert side_of_group.setdefault(group, name) == name, sample.scene
    saved = json.loads(SPLIT.read_text())["label_counts"]
    assert saved["test"]["no_mask"] > 300 and saved["test"]["mask"] > 600
