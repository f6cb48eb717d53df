"""`make bench` runs end to end on a few frames (speed is the benchmark's to report, not a
test's): both pipelines, the daemon, the table and docs/benchmarks.md's format."""

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_the_benchmark_runs_both_pipelines_on_a_few_frames(data_root, bundle_dir, tmp_path):
    out = tmp_path / "benchmarks.md"
    result = subprocess.run(
        [sys.executable, "-m", "scripts.benchmark", "--data-root", str(data_root),
         "--limit", "2", "--threads", "1", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    doc = out.read_text()
    rows = ("| detect, ms p50 / p95 |", "| classify, per face, ms p50 / p95 |",
            "| end to end, 1 thread, frames/s |", "| peak RSS, MB (maskwatch: the daemon) |",
            "| start to first processed frame, s |", "| scene F1 mask / no_mask |",
            "| *status page, one viewer:* end to end, 1 thread, frames/s |")  # fmt: skip
    for row in rows:
        assert row in doc and row in result.stdout, row
    assert "{{" not in doc and "## Targets" in doc
    figures = json.loads(out.with_suffix(".json").read_text())
    assert figures["doorway"]["maskwatch"]["1"]["frames"] == 10  # 2 scenes x 5 still frames
    assert figures["native"]["seed"]["1"]["frames"] == 2
    assert figures["doorway"]["maskwatch-viewer"]["1"]["viewer_pictures"] >= 1
    daemon = figures["daemon"]
    assert 0 < daemon["first_frame_s"] <= daemon["first_event_s"] and daemon["peak_rss_mb"] > 0
