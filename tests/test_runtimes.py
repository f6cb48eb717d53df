"""The daemon's code on both TFLite runtimes: ai-edge-litert (numpy 2) here, and
tflite-runtime 2.14 (numpy < 2, OpenCV 4.11) in its own environment from 'make setup'."""

import json
import subprocess

import pytest

from maskwatch.core.matching import match_greedy
from maskwatch.train.data import read_sources
from maskwatch.train.split import apply_split
from tests.conftest import ROOT, SPLIT

TFLITE_PYTHON = ROOT / ".venv-tflite" / "bin" / "python"


def detect(python, runtime, images, out):
    command = [str(python), "-m", "maskwatch", "detect", "--runtime", runtime, "--json", str(out)]
    result = subprocess.run(
        [*command, *map(str, images)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_both_runtimes_give_the_same_labels_on_real_scenes(data_root, tmp_path):
    if not TFLITE_PYTHON.exists():
        pytest.fail(f"{TFLITE_PYTHON} is missing: run 'make setup' to make the tflite-runtime env")
    import sys

    metrics = json.loads((ROOT / "models" / "metrics.json").read_text())
    test = apply_split(read_sources(data_root, metrics["sources"]), SPLIT)["test"]
    images = sorted({face.image for face in test if face.box is not None})[::4]
    litert = detect(sys.executable, "ai-edge-litert", images, tmp_path / "litert.jsonl")
    tflite = detect(TFLITE_PYTHON, "tflite-runtime", images, tmp_path / "tflite.jsonl")
    faces = agree = 0
    for a, b in zip(litert, tflite, strict=True):
        assert a["image"] == b["image"]
        # Same detector, but OpenCV 4.14 here and 4.11 there: match boxes, compare labels.
        pairs = match_greedy([f["box"] for f in a["faces"]], [f["box"] for f in b["faces"]], 0.8)
        assert len(pairs) >= 0.9 * max(len(a["faces"]), len(b["faces"]))
        for i, j in pairs:
            faces += 1
            agree += a["faces"][i]["label"] == b["faces"][j]["label"]
            assert abs(a["faces"][i]["score"] - b["faces"][j]["score"]) < 0.1
    assert faces >= 20 and agree / faces >= 0.97
