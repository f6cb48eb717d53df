"""`make bench` runs end to end on a few frames (speed is the benchmark's to report, not a
test's): maskwatch, the seeds and AIZOO in interleaved rounds, the daemon, the table with
medians and ranges, and docs/benchmarks.md's format."""

import json
import re
import subprocess
import sys

import numpy as np

from tests.conftest import ROOT

RANGE = r"(\d+\.\d) \((\d+\.\d)-(\d+\.\d)\)"  # "68.3 (61.0-70.2)": median (range)


def fps_runs(figures: dict, pipeline: str) -> list[float]:
    return [run["fps"] for run in figures["doorway"][pipeline]["1"]]


def spread(values: list[float]) -> tuple[float, float, float]:
    return float(np.median(values)), min(values), max(values)


def test_the_benchmark_runs_every_pipeline_on_a_few_frames(data_root, bundle_dir, tmp_path):
    out = tmp_path / "benchmarks.md"
    result = subprocess.run(
        [sys.executable, "-m", "scripts.benchmark", "--data-root", str(data_root),
         "--limit", "2", "--threads", "1", "--door-seconds", "12", "--rounds", "2",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    doc = out.read_text()
    figures = json.loads(out.with_suffix(".json").read_text())
    rounds = [re.findall(rf"bench: round {n} of 2: (.*)", result.stdout) for n in (1, 2)]
    assert rounds[0] == rounds[1] and "aizoo, doorway frames, 1 thread(s)" in rounds[0]
    interleaved = result.stdout.index("round 2 of 2: maskwatch, doorway")
    assert result.stdout.index("round 1 of 2: maskwatch run") < interleaved
    # End to end: maskwatch, seed, AIZOO as median (range), then two ratios of medians.
    fps_row = re.search(rf"\| end to end, 1 thread, frames/s \| {RANGE} \| {RANGE} \| {RANGE} "
                        r"\| (\d+\.\d)x \| (\d+\.\d)x \|", doc)  # fmt: skip
    assert fps_row, doc[:3000]
    cells = [float(v) for v in fps_row.groups()]
    for column, pipeline in enumerate(("maskwatch", "seed", "aizoo")):
        runs = fps_runs(figures, pipeline)
        assert len(runs) == 2
        assert cells[3 * column : 3 * column + 3] == [round(f, 1) for f in spread(runs)]
    ours, aizoo = (np.median(fps_runs(figures, p)) for p in ("maskwatch", "aizoo"))
    assert cells[10] == round(ours / aizoo, 1)
    assert "maskwatch better than AIZOO by |" in doc and "end to end >= 2x AIZOO's" in doc
    assert re.search(r"\| peak RSS, MB \(maskwatch: the daemon\) \| \d+ \(\d+-\d+\) \|", doc)
    rows = ("| detect, ms p50 / p95 |", "| classify, per face, ms p50 / p95 |",
            "| end to end, 1 thread, frames/s |", "| peak RSS, MB (maskwatch: the daemon) |",
            "| start to first processed frame, s |", "| scene F1 mask / no_mask |",
            "| *status page, one viewer:* end to end, 1 thread, frames/s |",
            "| CPU seconds per hour, x86, 1 thread |", "| people found, far (faces 20-40 px) |",
            "| Pi 4 projection, core-hours per day |",
            "| busy sequence: CPU seconds per hour |")  # fmt: skip
    for row in rows:
        assert row in doc and row in result.stdout, row
    assert "{{" not in doc and "## Targets" in doc
    assert figures["doorway"]["maskwatch"]["1"][0]["frames"] == 10  # 2 scenes x 5 still frames
    assert figures["native"]["seed"]["1"][1]["frames"] == figures["native"]["aizoo"]["1"][1][
        "frames"] == 2  # fmt: skip
    assert figures["doorway"]["maskwatch-viewer"]["1"][0]["viewer_pictures"] >= 1
    door = figures["door"]
    assert door["day"]["frames"] == door["busy"]["frames"] == 12 * 15
    for run in (door["day"]["today"], door["day"]["motion"]):
        assert run["near_people"] == 1 and run["cpu_s"] > 0  # the first walker, at 8 s
    assert door["day"]["today"]["detector_runs_per_frame"] == 1.0
    assert len(figures["daemon"]) == 2
    for daemon in figures["daemon"]:
        assert 0 < daemon["first_frame_s"] <= daemon["first_event_s"] and daemon["peak_rss_mb"] > 0
