"""The detector-only report: its rule with hand-made boxes, and the real YuNet on real scenes."""

import json
from pathlib import Path

import pytest

from maskwatch.core.bundle import DetectorInfo, load_bundle
from maskwatch.core.images import read_image
from maskwatch.train.annotation_fixes import FixedScenes, load_fixes
from maskwatch.train.datasets import DatasetError, FaceSample
from maskwatch.train.detector_report import (
    detection_figures,
    load_detector,
    main,
    precision_recall,
    provenance_threshold,
    run_detector,
)
from maskwatch.train.evaluate import DEFAULT_FIXES, FIXED
from maskwatch.vision.detectors import YUNET_FILE
from maskwatch.vision.detectors.base import Detection
from maskwatch.vision.detectors.yunet import YuNetDetector
from tests.conftest import ROOT

YUNET = ROOT.parent / "shared" / "models" / YUNET_FILE
IMAGE = Path("x.jpg")


def face(label, box):
    return FaceSample(IMAGE, box, label, "s/x", "s")


SCENES = FixedScenes(
    faces={
        IMAGE: [
            face("mask", (0, 0, 40, 40)),
            face("no_mask", (100, 0, 200, 100)),
            face("mask", (300, 0, 320, 20)),  # under 24 px
        ]
    },
    ignore={IMAGE: [(500, 0, 540, 40)]},
    ignored=1,
    relabelled=0,
)
DETECTIONS = {
    IMAGE: [
        Detection((0, 0, 40, 40), 0.9),  # finds the masked face
        Detection((100, 0, 200, 100), 0.5),  # finds the unmasked face, below 0.6
        Detection((500, 0, 540, 40), 0.9),  # on the ignore region: neither way
        Detection((600, 0, 610, 10), 0.9),  # unmatched, 10 px: neither way
        Detection((700, 0, 760, 60), 0.7),  # unmatched, 60 px: a false positive
        Detection((300, 0, 320, 20), 0.9),  # on the face under 24 px: neither way
    ]
}


def test_recall_precision_and_false_positives_follow_the_rule():
    at_06 = detection_figures(DETECTIONS, SCENES, 0.6)
    assert at_06.false_positives == 1
    assert at_06.recall("mask") == at_06.recall("mask", "24-48") == 1.0
    assert at_06.recall("mask", "96+") is None
    assert at_06.recall("no_mask") == at_06.recall("no_mask", "96+") == 0.0
    assert at_06.precision("mask") == 0.5 and at_06.precision("no_mask") == 0.0
    at_04 = detection_figures(DETECTIONS, SCENES, 0.4)
    assert at_04.recall("no_mask") == 1.0 and at_04.precision("no_mask") == 0.5
    # A detection on a face of the other class is no false positive for this class.
    assert at_04.precision("mask") == 0.5
    at_08 = detection_figures(DETECTIONS, SCENES, 0.8)
    assert at_08.false_positives == 0 and at_08.precision("mask") == 1.0


def test_the_sweep_trades_recall_for_precision():
    precision, recall = precision_recall(DETECTIONS, SCENES, "no_mask")
    assert recall[0] == 1.0 and recall[-1] == 0.0
    assert precision[0] == 0.5


def test_thresholding_afterwards_equals_running_at_the_threshold(data_root):
    images = sorted((data_root / "scenes-yolo" / "test").glob("*.jpg"))[:4]
    low = run_detector(load_detector(YUNET, 640), images)
    direct = YuNetDetector(
        YUNET, DetectorInfo(kind="yunet", file=YUNET.name, score_threshold=0.6, max_side=640)
    )
    for image in images:
        expected = direct.detect(read_image(image))
        assert expected and [d for d in low[image] if d.score >= 0.6] == expected


def test_the_report_on_the_real_test_split_agrees_with_the_scene_evaluation(
    data_root, bundle_dir, tmp_path
):
    """The bundle's detector, at the bundle's threshold: its recall per class and width is
    the one ``maskwatch.train.evaluate`` recorded for the whole bundle at max side 320, with
    the fixes."""
    detector = load_bundle(bundle_dir).manifest.detector
    named = f"bundle={bundle_dir / detector.file}@{detector.score_threshold}"
    main(["--detector", named, "--max-side", "320", "--out", str(tmp_path),
          "--data-root", str(data_root)])  # fmt: skip
    recorded = json.loads((ROOT / "reports" / "scene_evaluation.json").read_text())
    run = next(r for r in recorded["runs"] if r["max_side"] == 320 and r["annotations"] == FIXED)
    table = (tmp_path / "detector_report.md").read_text()
    ignored = sum(fix.kind == "ignore" for fix in load_fixes(ROOT / DEFAULT_FIXES))
    assert f"(112 photos, {ignored} ignore regions, 0 labels corrected)" in table
    for label, name in (("mask", "masked"), ("no_mask", "unmasked")):
        row = next(line for line in table.splitlines() if f"| {name} ({label}) |" in line)
        cells = [cell.strip() for cell in row.split("|")[5:9]]
        by_width = run["per_class"][label]
        expected = [
            f"{by_width[w]['detection_recall']:.3f}" for w in ("24-48", "48-96", "96+", "all")
        ]
        assert cells == expected
    for label in ("mask", "no_mask"):
        assert (tmp_path / f"detector_pr_{label}.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (Path("missing.onnx"), "missing.onnx: no such detector file"),
        (ROOT / "models" / "split.json", "OpenCV cannot load it as YuNet"),
    ],
)
def test_a_bad_detector_file_is_named_in_one_line(data_root, capsys, path, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["--detector", f"bad={path}", "--max-side", "320", "--data-root", str(data_root)])
    assert str(exit_info.value).startswith("maskwatch.train.detector_report: error: ")
    assert message in str(exit_info.value) and "\n" not in str(exit_info.value)


def test_a_fine_tuned_file_is_scored_at_the_threshold_its_provenance_chose(tmp_path):
    shipped = ROOT / "models" / "face_detection_yunet_masks.onnx"
    recorded = json.loads(shipped.with_suffix(".json").read_text())["score_threshold"]
    assert provenance_threshold(shipped) == recorded
    assert provenance_threshold(tmp_path / "plain.onnx") is None  # no provenance: --score
    (tmp_path / "other.json").write_text('{"note": "not a provenance file"}')
    assert provenance_threshold(tmp_path / "other.onnx") is None
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(DatasetError, match="broken.json: no numeric score_threshold"):
        provenance_threshold(tmp_path / "broken.onnx")
