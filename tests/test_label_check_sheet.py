"""The label-check sheet lists exactly the found faces the bundle labels otherwise."""

import json

import cv2
import numpy as np
import pytest

from scripts.label_check_sheet import main
from tests.conftest import ROOT


def test_the_sheet_lists_every_disagreement_the_evaluation_counted(data_root, bundle_dir, tmp_path):
    main(["--bundle", str(bundle_dir), "--data-root", str(data_root), "--out", str(tmp_path)])
    recorded = json.loads((ROOT / "reports" / "scene_evaluation.json").read_text())
    confusion = np.asarray(recorded["matched_faces"]["confusion"])  # the bundle's 640, fixed
    lines = (tmp_path / "sheet.txt").read_text().splitlines()
    assert len(lines) == confusion.sum() - np.trace(confusion) > 0
    numbered, scene, box, change = lines[0].split("\t")
    assert numbered == "#1" and scene.startswith("scenes-") and " -> " in change
    assert len(json.loads(box)) == 4
    sheet = cv2.imread(str(tmp_path / "sheet.png"))
    assert sheet is not None and sheet.shape[0] >= 200 * (len(lines) // 6)


def test_a_missing_bundle_is_named_in_one_line(data_root, tmp_path):
    with pytest.raises(SystemExit) as stop:
        main(["--bundle", str(tmp_path / "nowhere"), "--data-root", str(data_root)])
    message = str(stop.value)
    assert message.startswith("label_check_sheet: error: ") and "nowhere" in message
    assert "\n" not in message
