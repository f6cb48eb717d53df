"""The committed reports are measured again here, through the real bundle on real scenes."""

import json

import numpy as np

from maskwatch.core.bundle import load_bundle
from maskwatch.core.preprocess import PreprocessSpec
from maskwatch.train.annotation_fixes import apply_fixes, load_fixes
from maskwatch.train.crops import load_crops
from maskwatch.train.data import read_sources
from maskwatch.train.datasets import read_voc_scenes
from maskwatch.train.evaluate import (
    AS_ANNOTATED,
    DEFAULT_FIXES,
    FIXED,
    evaluate_scenes,
    scene_samples,
)
from maskwatch.train.split import apply_split
from maskwatch.vision.detectors import create_detector
from maskwatch.vision.pipeline import MaskPipeline
from tests.conftest import ROOT, SPLIT

REPORTS = ROOT / "reports"


def test_the_committed_scene_figures_are_reproduced(data_root, bundle_dir):
    metrics = json.loads((ROOT / "models" / "metrics.json").read_text())
    recorded = json.loads((REPORTS / "scene_evaluation.json").read_text())
    split = apply_split(read_sources(data_root, metrics["sources"]), SPLIT)
    fixed = apply_fixes(
        scene_samples(split["test"]), load_fixes(ROOT / DEFAULT_FIXES), DEFAULT_FIXES
    )
    summary = evaluate_scenes(
        MaskPipeline.from_bundle_dir(bundle_dir), fixed.faces, None, fixed.ignore
    )
    assert summary["images"] == recorded["images"] >= 100
    assert summary["per_label"] == recorded["per_label"]
    assert summary["detection_recall"] == recorded["detection_recall"]
    assert summary["per_class"] == recorded["per_class"]
    assert recorded["annotation_fixes"]["ignore_regions"] == fixed.ignored > 0
    # Each detector size (the daemon's old and new default, the bundle's), each scored as
    # published and with the fixes.
    runs = {(run["max_side"], run["annotations"]): run for run in recorded["runs"]}
    kinds = (AS_ANNOTATED, FIXED)
    assert sorted(runs) == [(size, kind) for size in (320, 480, 640) for kind in kinds]
    assert runs[640, FIXED]["per_class"] == summary["per_class"]


def test_the_reports_a_person_opens_exist():
    for name in (
        "summary.md",
        "label_counts.png",
        "training_curves.png",
        "crop_test_keras_confusion.png",
        "crop_test_keras_roc_pr.png",
        "scene_matched_faces_confusion.png",
        "scene_matched_faces_roc_pr.png",
    ):
        assert (REPORTS / name).stat().st_size > 1000, name
    summary = (REPORTS / "summary.md").read_text()
    recorded = json.loads((REPORTS / "scene_evaluation.json").read_text())
    assert f"{recorded['per_label']['no_mask']['f1']:.3f}" in summary
    for run in recorded["runs"]:
        assert (
            f"### Detector max side {run['max_side']}, annotations {run['annotations']}" in summary
        )


def test_detector_crops_take_the_detectors_box(data_root, bundle_dir):
    manifest = load_bundle(bundle_dir).manifest
    detector = create_detector(manifest.detector, bundle_dir)
    faces = [
        f for f in read_voc_scenes(data_root / "scenes-voc") if f.image.stem == "maksssksksss10"
    ]
    spec = PreprocessSpec(input_size=64)
    annotated, y_a, _ = load_crops(faces, spec)
    detected, y_d, _ = load_crops(faces, spec, detector=detector)
    assert len(annotated) == len(detected) == 1 and y_a.tolist() == y_d.tolist()
    # YuNet's box also takes in the forehead: the same face, framed differently.
    assert np.abs(annotated.astype(int) - detected.astype(int)).mean() > 10


def test_the_committed_alarm_reports_are_at_the_default_operating_point():
    from maskwatch.core.labels import DEFAULT_MASK_MIN_SCORE

    alarm = json.loads((REPORTS / "alarm_evaluation.json").read_text())
    assert alarm["mask_min_score"] == DEFAULT_MASK_MIN_SCORE
    assert sorted(alarm["sets"]) == ["external-macwin", "test"]
    summary = (REPORTS / "summary.md").read_text()
    assert f"`pipeline.mask_min_score` = {DEFAULT_MASK_MIN_SCORE}" in summary
    assert (REPORTS / alarm["curve_plot"]).stat().st_size > 10_000
    for name, result in alarm["sets"].items():
        at_default = next(
            r for r in result["curve"] if r["mask_min_score"] == round(DEFAULT_MASK_MIN_SCORE, 2)
        )
        assert f"bare faces called mask {100 * at_default['bare_called_mask']:.1f}%" in summary
        assert (REPORTS / result["bare_called_mask_sheet"]["file"]).is_file(), name
        assert result["tolerant"]["detection_recall"]["no_mask"]["annotated"] > 100
