"""Synthetic masks on real unmasked face crops: landmarks, where the paint goes, determinism."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from train.synthetic_masks import MaskPainter

LEFT_EYE, RIGHT_EYE, NOSE_TIP, CHIN = 33, 263, 1, 152


@pytest.fixture(scope="module")
def painter() -> MaskPainter:
    return MaskPainter(seed=0)


@pytest.fixture(scope="module")
def crops(data_root: Path) -> list[np.ndarray]:
    files = sorted((data_root / "crops" / "without_mask").glob("*.jpg"))[::187][:10]
    assert len(files) == 10
    return [cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB) for path in files]


def test_landmarks_on_real_faces(painter, crops):
    found = [(crop, painter.landmarks(crop)) for crop in crops]
    found = [(crop, points) for crop, points in found if points is not None]
    assert len(found) >= 8
    for crop, points in found:
        height, width = crop.shape[:2]
        assert points.shape == (468, 2)
        assert (points >= 0).all() and (points < (width, height)).all()
        eyes_y = max(points[LEFT_EYE, 1], points[RIGHT_EYE, 1])
        assert eyes_y < points[NOSE_TIP, 1] < points[CHIN, 1]


def test_paint_covers_lower_face_only(painter, crops):
    painted = 0
    for crop in crops:
        out = painter.paint(crop)
        if out is None:
            continue
        painted += 1
        assert out.shape == crop.shape and out.dtype == np.uint8
        rows = np.abs(out.astype(np.int16) - crop.astype(np.int16)).mean(axis=(1, 2))
        third = crop.shape[0] // 3
        upper, lower = rows[:third].mean(), rows[-third:].mean()
        assert upper < 0.5 and lower > 5 and lower > 20 * upper
    assert painted >= 8


def test_same_seed_same_output(crops):
    crop = crops[1]
    first, second = MaskPainter(seed=7).paint(crop), MaskPainter(seed=7).paint(crop)
    assert first is not None and np.array_equal(first, second)
    assert not np.array_equal(first, MaskPainter(seed=8).paint(crop))


@pytest.mark.parametrize("kind", ["grey", "noise"])
def test_no_face_no_mask(painter, kind):
    rng = np.random.default_rng(0)
    image = (
        np.full((128, 128, 3), 128, np.uint8)
        if kind == "grey"
        else rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    )
    assert painter.paint(image) is None
