"""Every dataset layout users bring, on real files and on small hand-made ones."""

from collections import Counter

import cv2
import numpy as np
import pytest

from maskwatch.train.data import parse_source, read_sources
from maskwatch.train.datasets import DatasetError, load_label_map, read_csv_boxes, read_yolo_scenes


def test_yolo_scenes_are_read_with_their_counts(data_root):
    faces = list(read_yolo_scenes(data_root / "scenes-yolo"))
    # The dataset README: 3,890 faces, 716 no_mask and 3,174 mask, in 678 scenes.
    assert Counter(f.label for f in faces) == {"mask": 3174, "no_mask": 716}
    assert len({f.scene for f in faces}) == 678


@pytest.fixture
def scene(tmp_path):
    image = tmp_path / "images" / "a.jpg"
    image.parent.mkdir()
    cv2.imwrite(str(image), np.zeros((100, 200, 3), np.uint8))
    return image


def test_yolo_boxes_become_pixels(scene):
    scene.with_suffix(".txt").write_text("1 0.5 0.5 0.2 0.4\n0 0.1 0.1 0.1 0.1\n")
    faces = list(read_yolo_scenes(scene.parent))
    assert [(f.label, f.box) for f in faces] == [
        ("mask", (80, 30, 120, 70)),
        ("no_mask", (10, 5, 30, 15)),
    ]


def test_a_malformed_yolo_line_names_file_and_line(scene):
    scene.with_suffix(".txt").write_text("1 0.5 0.5 0.2 0.4\n7 0.5 0.5 0.2 0.4\n")
    with pytest.raises(DatasetError, match=r"a.txt:2: expected 'class cx cy w h'"):
        list(read_yolo_scenes(scene.parent))


def test_csv_with_a_header_in_any_column_order(scene):
    csv = scene.parent.parent / "train.csv"
    csv.write_text(
        "name,x1,x2,y1,y2,classname\n"
        "a.jpg,10,50,20,70,face_with_mask\n"
        "a.jpg,60,90,20,60,face_no_mask\n"
        "a.jpg,0,5,0,5,mask_colorful\n"
    )
    faces = list(read_csv_boxes(csv))
    assert [(f.label, f.box) for f in faces] == [
        ("mask", (10, 20, 50, 70)),
        ("no_mask", (60, 20, 90, 60)),
    ]
    assert all(f.image == scene and f.scene == "csv/a" for f in faces)


def test_csv_without_a_header_is_read_as_kaggles_layout(scene):
    csv = scene.parent.parent / "boxes.csv"
    csv.write_text("a.jpg,10,50,20,70,face_with_mask_incorrect\n")
    assert [(f.label, f.box) for f in read_csv_boxes(csv)] == [("mask_incorrect", (10, 20, 50, 70))]


def test_csv_with_xmin_columns(scene):
    csv = scene.parent.parent / "boxes.csv"
    csv.write_text("filename,xmin,ymin,xmax,ymax,label\na.jpg,1,2,30,40,without_mask\n")
    assert [f.box for f in read_csv_boxes(csv)] == [(1, 2, 30, 40)]


def test_unknown_classes_are_refused_or_mapped_by_a_label_map(scene, tmp_path):
    csv = scene.parent.parent / "boxes.csv"
    csv.write_text("a.jpg,10,50,20,70,balaclava\na.jpg,60,90,20,60,helmet\n")
    with pytest.raises(DatasetError, match="unknown class 'balaclava'; map it in a label map"):
        list(read_csv_boxes(csv))
    label_map = tmp_path / "labels.toml"
    label_map.write_text('balaclava = "mask"\nhelmet = "ignore"\n')
    faces = list(read_csv_boxes(csv, label_map=load_label_map(label_map)))
    assert [f.label for f in faces] == ["mask"]


def test_a_label_map_to_an_unknown_label_is_refused(tmp_path):
    label_map = tmp_path / "labels.toml"
    label_map.write_text('balaclava = "maybe"\n')
    with pytest.raises(DatasetError, match="'balaclava' maps to 'maybe'"):
        load_label_map(label_map)


def test_sources_are_kind_and_path(data_root):
    assert parse_source("yolo:scenes-yolo") == ("yolo", "scenes-yolo")
    with pytest.raises(DatasetError, match="expected KIND:PATH"):
        parse_source("coco:x")
    with pytest.raises(DatasetError, match="does not exist"):
        read_sources(data_root, ["voc:nowhere"])
