"""Two source trees on the same doorway frames, for a before / after on a busy machine:
the benchmark's maskwatch pipeline (frames per second) and ``maskwatch run`` end to end
(frames per second, and CPU milliseconds per frame, which other load disturbs less).

``python -m scripts.ab_daemon TREE [--scenes 60]``, TREE a checkout (``git archive REV``
unpacked, with ``bundle/``); run it alternately on both trees and compare the lines.
"""

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", type=Path)
    parser.add_argument("--scenes", type=int, default=60)
    parser.add_argument("--data-root", type=Path, default=DATA)
    args = parser.parse_args()
    root = args.tree.resolve()
    from workbench.bench_child import child_env, spawn_child
    from workbench.bench_frames import doorway_frames, test_scenes, write_frames
    from workbench.local_broker import LocalBroker

    frames = doorway_frames(test_scenes(args.data_root, args.scenes))
    with tempfile.TemporaryDirectory() as tmp, LocalBroker() as broker:
        folder = write_frames(frames, Path(tmp) / "doorway")
        pipeline = spawn_child("maskwatch", folder, 1, broker.port)
        before = cpu_seconds()
        run = subprocess.run(
            [sys.executable, "-m", "maskwatch", "run", "--config", "config/maskwatch.toml",
             "--set", f"mqtt.port={broker.port}", "--set", f"source.path={folder}",
             "--set", f"queue.path={tmp}/events.sqlite3"],
            cwd=root, env=child_env(1), capture_output=True, text=True, check=True,
        )  # fmt: skip
        cpu = cpu_seconds() - before
    count, seconds = re.search(r"processed (\d+) frames, \d+ faces, \d+ events in ([\d.]+) s",
                               run.stderr).groups()  # fmt: skip
    print(json.dumps({
        "tree": str(root), "frames": len(frames), "pipeline_fps": round(pipeline["fps"], 2),
        "daemon_fps": round(int(count) / float(seconds), 2),
        "daemon_cpu_ms_per_frame": round(1000 * cpu / int(count), 1),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
