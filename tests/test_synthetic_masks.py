"""Synthetic masks on real unmasked face crops: landmarks, where the paint goes, determinism."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from maskwatch.train.synthetic_masks import MaskPainter

LEFT_EYE, RIGHT_EYE, NOSE_TIP, CHIN = 33, 263, 1, 152
UPPER_LIP, LOWER_LIP = 0, 17


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


def _change_at(before: np.ndarray, after: np.ndarray, point: np.ndarray) -> float:
    """Mean absolute change in the 3x3 pixels around ``point``."""
    x, y = np.round(point).astype(int)
    patch = (slice(max(y - 1, 0), y + 2), slice(max(x - 1, 0), x + 2))
    return float(np.abs(after[patch].astype(np.int16) - before[patch].astype(np.int16)).mean())


@pytest.mark.parametrize("placement", ["nose_out", "chin"])
def test_a_mask_worn_wrongly_leaves_the_nose_uncovered(painter, crops, placement):
    checked = 0
    for crop in crops:
        points = painter.landmarks(crop)
        if points is None:
            continue
        out = painter.paint(crop, placement)
        assert _change_at(crop, out, points[NOSE_TIP]) < 1.0  # the nose tip is not painted
        below_lip = (points[LOWER_LIP] + 2 * points[CHIN]) / 3
        assert _change_at(crop, out, below_lip) > 5  # the chin is
        if placement == "chin":
            assert _change_at(crop, out, points[UPPER_LIP]) < 1.0
        checked += 1
    assert checked >= 8


def test_the_kinds_colours_and_prints_vary(crops):
    painter = MaskPainter(seed=11)
    crop = crops[1]
    painted = [painter.paint(crop) for _ in range(12)]
    region = [p[-crop.shape[0] // 4 :].reshape(-1, 3).astype(float) for p in painted]
    means = np.array([r.mean(axis=0) for r in region])
    assert means.std(axis=0).min() > 15  # colours differ across the palette
    # shading follows the face: the painted area is not one flat colour
    assert all(r.std(axis=0).max() > 3 for r in region)


def test_an_unknown_placement_is_refused(painter, crops):
    with pytest.raises(ValueError, match="placement 'forehead'"):
        painter.paint(crops[0], "forehead")


def test_no_colour_close_to_the_faces_own_skin(crops):
    from maskwatch.train.skin import lab_of, median_lab
    from maskwatch.train.synthetic_masks import CHEEK_LEFT, CHEEK_RIGHT, PALETTE_RGB

    distant = MaskPainter(seed=0, min_skin_distance=25)
    assert len(MaskPainter(seed=0)._palette(crops[0], None)) == len(PALETTE_RGB)
    checked = 0
    for crop in crops:
        points = distant.landmarks(crop)
        if points is None:
            continue
        checked += 1
        palette = distant._palette(crop, points)
        assert 0 < len(palette) < len(PALETTE_RGB)  # some colours left out, most kept
        cheeks = np.stack(
            [crop[round(y), round(x)] for x, y in points[[*CHEEK_RIGHT, *CHEEK_LEFT]]]
        )
        skin = median_lab(cheeks)
        assert (np.linalg.norm(lab_of(palette.astype(np.uint8)) - skin, axis=1) >= 20).all()
    assert checked >= 8
