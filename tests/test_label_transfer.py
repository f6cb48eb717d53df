"""The VOC photos' mask_incorrect faces reach the YOLO copies the split keeps."""

from collections import Counter

from maskwatch.train.data import read_sources
from maskwatch.train.datasets import read_voc_scenes, read_yolo_scenes
from maskwatch.train.label_transfer import carry_labels


def test_mask_incorrect_faces_are_carried_onto_the_kept_copies(data_root):
    voc = list(read_voc_scenes(data_root / "scenes-voc"))
    yolo = list(read_yolo_scenes(data_root / "scenes-yolo"))
    carried = carry_labels(yolo + voc)
    changed = [(a, b) for a, b in zip(yolo + voc, carried, strict=True) if a != b]
    # Only YOLO faces change, only to mask_incorrect, and nothing else about them.
    assert changed and all(a.source == "scenes-yolo" for a, _ in changed)
    assert {b.label for _, b in changed} == {"mask_incorrect"}
    assert all((a.image, a.box, a.scene) == (b.image, b.box, b.scene) for a, b in changed)
    # Nearly all of VOC's 123 reach a copy (a few photos have none, or no matching box).
    assert 100 <= len(changed) <= 123
    assert Counter(f.label for f in carried[len(yolo) :]) == Counter(f.label for f in voc)


def test_read_sources_carries_them_and_a_single_source_is_left_alone(data_root):
    both = read_sources(data_root, ["yolo:scenes-yolo", "voc:scenes-voc"])
    assert sum(f.label == "mask_incorrect" and f.source == "scenes-yolo" for f in both) >= 100
    alone = read_sources(data_root, ["yolo:scenes-yolo"])
    assert not any(f.label == "mask_incorrect" for f in alone)
