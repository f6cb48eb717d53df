"""Accuracy by face width and the contact sheet of the worst errors, on real test crops."""

import cv2
import numpy as np

from maskwatch.core.preprocess import PreprocessSpec
from maskwatch.train.crops import cached_crops, face_widths, load_crops
from maskwatch.train.data import read_sources
from maskwatch.train.error_reports import (
    TILE,
    accuracy_by_width,
    error_sheet,
    width_name,
    worst_errors,
)
from maskwatch.train.split import apply_split
from tests.conftest import SPLIT


def test_width_bins():
    assert [width_name(w) for w in (0, 10, 24, 47, 48, 96, 400)] == [
        "whole image", "0-24", "24-48", "24-48", "48-96", "96+", "96+"
    ]  # fmt: skip


def test_reports_on_real_test_crops(data_root, tmp_path):
    test = apply_split(read_sources(data_root, ["yolo:scenes-yolo"]), SPLIT)["test"]
    small = [f for f in test if 8 <= f.box[2] - f.box[0] < 24][:20]
    samples = small + [f for f in test if f.box[2] - f.box[0] >= 24][:40]
    x, y, kept = load_crops(samples, PreprocessSpec())
    widths = face_widths(kept)
    assert (widths > 0).all()
    predicted = (y + (widths < 24)) % 3  # wrong on exactly the faces under 24 px
    table = accuracy_by_width(y, predicted, widths)
    assert table["0-24"]["accuracy"] == 0.0
    assert all(row["accuracy"] == 1.0 for name, row in table.items() if name != "0-24")
    assert sum(row["faces"] for row in table.values()) == len(y)

    probabilities = np.full((len(y), 3), 0.1)
    probabilities[np.arange(len(y)), predicted] = np.linspace(0.5, 0.8, len(y))
    worst = worst_errors(y, probabilities, 5)
    assert (predicted[worst] != y[worst]).all()
    assert list(probabilities[worst, predicted[worst]]) == sorted(
        probabilities[worst, predicted[worst]], reverse=True
    )
    shown = error_sheet(x, y, probabilities, tmp_path / "worst.png", 32)
    sheet = cv2.imread(str(tmp_path / "worst.png"))
    assert shown == min(32, int((predicted != y).sum())) and shown > 0
    assert sheet.shape[1] == 8 * TILE and sheet.shape[0] % (TILE + 30) == 0

    # the crop cache gives back what it stored
    first = cached_crops(samples, PreprocessSpec(), tmp_path / "cache")
    second = cached_crops(samples, PreprocessSpec(), tmp_path / "cache")
    assert len(list((tmp_path / "cache").iterdir())) == 1
    for a, b, c in zip(first, second, (x, y, widths), strict=True):
        assert np.array_equal(a, b) and np.array_equal(a, c)
