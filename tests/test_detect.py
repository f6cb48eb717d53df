import json

import cv2
import pytest

from maskwatch.core.labels import CLASSIFIER_LABELS
from tests.conftest import error_lines, maskwatch

IMAGES = ("maksssksksss0.jpg", "maksssksksss1.jpg", "maksssksksss10.jpg")


@pytest.fixture
def images(data_root):
    return [data_root / "scenes-voc" / "images" / name for name in IMAGES]


def test_detect_writes_one_exact_json_line_per_image(images, tmp_path, bundle_dir):
    out = tmp_path / "faces.jsonl"
    annotated = tmp_path / "annotated"
    result = maskwatch(
        "detect",
        "--bundle",
        str(bundle_dir),
        "--json",
        str(out),
        "--annotate",
        str(annotated),
        *map(str, images),
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["image"] for r in records] == list(IMAGES)
    assert sum(len(r["faces"]) for r in records) >= 5
    for record, path in zip(records, images, strict=True):
        assert set(record) == {"image", "faces"}
        height, width = cv2.imread(str(path)).shape[:2]
        for face in record["faces"]:
            assert set(face) == {"box", "label", "score"}
            x1, y1, x2, y2 = face["box"]
            assert all(isinstance(v, int) for v in face["box"])
            assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
            assert face["label"] in CLASSIFIER_LABELS and 0.0 <= face["score"] <= 1.0
        drawn = cv2.imread(str(annotated / path.name))
        assert drawn.shape == (height, width, 3)
        if record["faces"]:
            assert (drawn != cv2.imread(str(path))).any()


def test_the_default_bundle_is_used_without_bundle(images, tmp_path):
    out = tmp_path / "faces.jsonl"
    result = maskwatch("detect", "--json", str(out), str(images[2]))
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["faces"]


def test_a_garbage_image_gets_one_line_and_the_others_are_kept(images, tmp_path):
    garbage = tmp_path / "broken.jpg"
    garbage.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(images[0].read_bytes()[:200])
    out = tmp_path / "faces.jsonl"
    result = maskwatch(
        "detect",
        "--json",
        str(out),
        str(images[0]),
        str(garbage),
        str(truncated),
        str(tmp_path / "absent.jpg"),
        str(images[1]),
    )
    assert result.returncode == 1
    lines = error_lines(result.stderr)
    assert len(lines) == 3
    assert "broken.jpg: not a readable image" in lines[0]
    assert "truncated.jpg: not a readable image" in lines[1]
    assert "absent.jpg: no such image file" in lines[2]
    assert [json.loads(line)["image"] for line in out.read_text().splitlines()] == list(IMAGES[:2])


def test_an_unwritable_output_is_one_line(images, tmp_path):
    missing = tmp_path / "absent" / "x.jsonl"
    result = maskwatch("detect", "--json", str(missing), str(images[0]))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert error_lines(result.stderr) == [
        f"maskwatch: error: --json {missing}: cannot write it (No such file or directory)"
    ]
