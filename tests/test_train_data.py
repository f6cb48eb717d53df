from collections import Counter

import cv2
import numpy as np
import pytest

from maskwatch.core.preprocess import PreprocessSpec, crop_face
from maskwatch.train.crops import load_crops
from maskwatch.train.datasets import DatasetError, read_class_folders, read_voc_scenes
from maskwatch.train.split import SPLITS, split_samples

SEED = 1234


@pytest.fixture(scope="module")
def voc(data_root):
    return list(read_voc_scenes(data_root / "scenes-voc"))


def test_voc_scenes_are_read_with_their_counts(voc):
    # The dataset README: 4,072 faces, 3,232 with / 717 without / 123 worn incorrectly.
    assert Counter(f.label for f in voc) == {"mask": 3232, "no_mask": 717, "mask_incorrect": 123}
    assert len({f.scene for f in voc}) == 853
    assert all(f.box[2] > f.box[0] and f.box[3] > f.box[1] for f in voc)


def test_class_folders_are_read_with_their_counts(data_root):
    crops = list(read_class_folders(data_root / "crops"))
    assert Counter(f.label for f in crops) == {"mask": 2091, "no_mask": 1877}
    assert all(f.box is None for f in crops)


def test_an_unknown_class_is_refused_by_name(tmp_path):
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename><object><name>helmet</name><bndbox>"
        "<xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object></annotation>"
    )
    with pytest.raises(DatasetError, match="a.xml: unknown class 'helmet'"):
        list(read_voc_scenes(tmp_path))


def test_the_split_keeps_every_scene_on_one_side_and_is_repeatable(voc):
    split = split_samples(voc, SEED)
    sides = {name: {f.scene for f in split[name]} for name in SPLITS}
    assert not sides["train"] & sides["test"] and not sides["train"] & sides["val"]
    assert not sides["val"] & sides["test"]
    assert 0.1 < len(sides["test"]) / 853 < 0.2
    again = split_samples(voc, SEED)
    assert {n: [f.scene for f in again[n]] for n in SPLITS} == {
        n: [f.scene for f in split[n]] for n in SPLITS
    }


def expected_crop(image, box, size=64, margin=0.2):
    """The documented crop, worked out here by hand: a square around the box's centre,
    ``margin`` wider on each side, clamped to the image, shrunk with INTER_AREA, RGB."""
    x1, y1, x2, y2 = box
    half = max(x2 - x1, y2 - y1) * (1 + 2 * margin) / 2
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left, top = max(0, round(cx - half)), max(0, round(cy - half))
    right, bottom = min(image.shape[1], round(cx + half)), min(image.shape[0], round(cy + half))
    face = image[top:bottom, left:right]
    shrinking = face.shape[0] > size or face.shape[1] > size
    face = cv2.resize(
        face, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    )
    return face[..., ::-1]


def test_training_crops_are_the_device_crops(voc):
    spec = PreprocessSpec()
    faces = [f for f in voc if f.label == "no_mask"][:5]
    crops, labels, kept = load_crops(faces, spec)
    assert len(kept) >= 3
    for crop, face in zip(crops, kept, strict=True):
        image = cv2.imread(str(face.image))
        assert (crop == expected_crop(image, face.box)).all()  # what training learns from
        assert (crop == crop_face(image, face.box, spec)).all()  # what the device feeds it
    assert labels.tolist() == [1] * len(kept)


def test_class_weights_balanced_and_square_root():
    from maskwatch.train.train import class_weights

    counts = np.array([3000, 1500, 300])
    balanced = class_weights(counts, "balanced")
    assert [balanced[i] * counts[i] for i in range(3)] == pytest.approx([1600] * 3)
    root = class_weights(counts, "sqrt")
    assert [root[i] for i in range(3)] == pytest.approx([balanced[i] ** 0.5 for i in range(3)])


def test_photos_without_boxes_are_cut_at_their_most_confident_face(data_root):
    from maskwatch.train.crops import cached_crops
    from maskwatch.train.data import read_sources
    from maskwatch.vision.detectors import ORIGINAL_YUNET, create_detector

    photos = read_sources(data_root, ["folders:crops-web2"])
    assert len(photos) == 666 and all(p.box is None for p in photos)
    few = photos[:4] + photos[-4:]
    detector = create_detector(ORIGINAL_YUNET, data_root.parent / "models")
    spec = PreprocessSpec(input_size=64)
    whole, _, _ = load_crops(few, spec, detector=detector)
    cut, labels, kept = load_crops(few, spec, detector=detector, cut_whole=True)
    assert len(whole) == len(few) and 0 < len(cut) <= len(few)
    for crop, photo in zip(cut, kept, strict=True):
        image = cv2.imread(str(photo.image))
        best = max(detector.detect(image), key=lambda d: d.score)
        assert (crop == crop_face(image, best.box, spec)).all()
    x, y, _ = cached_crops(few, spec, None, detector, cut_whole=True)
    assert (x == cut).all() and (y == labels).all()
