"""``make bench``: maskwatch against the seeds' pipeline and AIZOO's FaceMaskDetection (the
most used open mask detector), on the same frames, in one run.

Frames: the held-out test scenes of the saved split at their native size, and a 640x480
"doorway" sequence made from them (each scene scaled so its faces have the sizes a door
camera sees, framed at 640x480, shown for a few frames as a still camera would).

Each pipeline runs in a child process of its own (clean memory figures), one per
thread count, over JPEG bytes held in memory: per-stage median and p95 (decode, detect,
crop and pre-process, classify per frame and per face, track, publish to a loopback
mosquitto), frames per second end to end, peak RSS, and the time from process start
to the first processed frame and the first event. For maskwatch the memory and start
figures come from the real daemon (``maskwatch run``, READY=1 over a notify socket).
Every configuration runs ``--rounds`` times (3 by default), interleaved round by round;
the tables show each figure's median and range (:mod:`workbench.bench_table`). All
pipelines are scored with the training issue's scene evaluation on the same frames.
The table goes to stdout and to ``docs/benchmarks.md``.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from maskwatch.vision.pipeline import Face
from workbench import bench_table, door_bench
from workbench.bench_child import (
    BASELINE_VARIANTS,
    MASKWATCH_VARIANTS,
    MODELS,
    child_env,
    run_child,
    spawn_child,
)
from workbench.bench_daemon import run_daemon
from workbench.bench_frames import (
    BenchFrame,
    doorway_frames,
    native_frames,
    test_scenes,
    write_frames,
)

ROOT = Path(__file__).resolve().parent.parent

ONE_THREAD_ONLY = ("maskwatch-640", "maskwatch-viewer", "maskwatch-every-frame", "seed-lean")
DOORWAY_ONLY = ("maskwatch-viewer", "maskwatch-every-frame", "seed-lean")


def configurations(frame_set: str, threads: list[int]) -> list[tuple[str, int]]:
    """(pipeline, thread count) of every child run on ``frame_set``, in run order."""
    runs = []
    for pipeline in (*MASKWATCH_VARIANTS, *BASELINE_VARIANTS):
        if frame_set == "native" and pipeline in DOORWAY_ONLY:
            continue
        one = frame_set == "native" or pipeline in ONE_THREAD_ONLY
        runs += [(pipeline, count) for count in ([1] if one else threads)]
    return runs


def scene_f1(frames: list[BenchFrame], predictions: list) -> dict[str, float]:
    from maskwatch.train.datasets import FaceSample
    from maskwatch.train.evaluate import SceneTally

    tally = SceneTally()
    for frame, predicted in zip(frames, predictions, strict=True):
        annotated = [FaceSample(Path(frame.name), tuple(box), label, frame.name, "bench")
                     for box, label in frame.boxes]  # fmt: skip
        faces = [Face(tuple(box), label, 1.0, 1.0) for box, label in predicted]
        tally.add(faces, annotated)
    per_label = tally.summary()["per_label"]
    return {label: per_label[label]["f1"] for label in ("mask", "no_mask")}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, {platform.machine()}, Python "
            f"{platform.python_version()}, OpenCV {cv2.__version__}")  # fmt: skip


def run_parent(args: argparse.Namespace) -> None:
    from workbench.aizoo_pipeline import check_files
    from workbench.local_broker import LocalBroker

    check_files(args.models_dir / "aizoo")  # before the runs, not ten minutes into them
    scenes = test_scenes(args.data_root, args.limit)
    sets = {"doorway": doorway_frames(scenes), "native": native_frames(scenes)}
    runs: dict = {name: defaultdict(lambda: defaultdict(list)) for name in sets}
    results: dict = {"threads": args.threads, "rounds": args.rounds, "daemon": []}
    with tempfile.TemporaryDirectory(prefix="maskwatch-bench-") as tmp, LocalBroker() as broker:
        folders = {name: write_frames(frames, Path(tmp) / name) for name, frames in sets.items()}
        # Interleaved: every configuration once per round (A B C A B C), so that the
        # machine's slow spells fall on all of them alike.
        for round_number in range(1, args.rounds + 1):
            step = f"bench: round {round_number} of {args.rounds}:"
            for name, folder in folders.items():
                for pipeline, threads in configurations(name, args.threads):
                    print(f"{step} {pipeline}, {name} frames, {threads} thread(s)", flush=True)
                    runs[name][pipeline][threads].append(
                        spawn_child(pipeline, folder, threads, broker.port, args.models_dir)
                    )
            print(f"{step} maskwatch run (the daemon) over the doorway frames", flush=True)
            results["daemon"].append(run_daemon(folders["doorway"], broker.port))
    for name, frames in sets.items():
        results[name] = scored(frames, runs[name])
    print("bench: a day at the door, today's daemon and motion gating", flush=True)
    results["door"] = run_door_day(args.data_root, args.door_seconds)
    text = bench_table.table(results) + "\n\n" + door_bench.table(results["door"])
    checks = bench_table.targets(results) + door_bench.targets(results["door"])
    print("\n" + text + "\n\nTargets (x86, one thread):\n" + "\n".join(checks))
    if args.out:
        command = " ".join(["python -m scripts.benchmark", *sys.argv[1:]])
        args.out.write_text(render_doc(text, checks, command))
        (args.out.with_suffix(".json")).write_text(json.dumps(results, indent=1) + "\n")
        print(f"\nwrote {args.out} and {args.out.with_suffix('.json')}")


def scored(frames: list[BenchFrame], runs: dict) -> dict:
    """Each configuration's runs, each run's predictions replaced by its scene F1; a
    pipeline's F1 is the median of its one-thread runs'."""
    f1 = {}
    for pipeline, by_threads in runs.items():
        for run in (run for same in by_threads.values() for run in same):
            predictions = run.pop("predictions")
            run["scene_f1"] = scene_f1(frames, predictions)
        per_run = [run["scene_f1"] for run in by_threads[1]]
        f1[pipeline] = {label: float(np.median([r[label] for r in per_run]))
                        for label in ("mask", "no_mask")}  # fmt: skip
    return {**runs, "f1": f1}


def run_door_day(data_root: Path, seconds: float | None) -> dict:
    """scripts/door_bench.py in a process of its own, at one thread."""
    extra = ["--seconds", str(seconds)] if seconds else []
    result = subprocess.run(
        [sys.executable, "-m", "scripts.door_bench", "--data-root", str(data_root), *extra],
        cwd=ROOT, env=child_env(1), capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"door day benchmark failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def render_doc(text: str, checks: list[str], command: str) -> str:
    template = (ROOT / "docs" / "benchmarks.template.md").read_text()
    return (template.replace("{{MACHINE}}", machine()).replace("{{COMMAND}}", command)
            .replace("{{TABLE}}", text).replace("{{TARGETS}}", "\n".join(checks))
            .replace("{{DATE}}", time.strftime("%Y-%m-%d")))  # fmt: skip


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    child = commands.add_parser("child")
    pipelines = (*MASKWATCH_VARIANTS, *BASELINE_VARIANTS)
    child.add_argument("--pipeline", choices=pipelines, required=True)
    child.add_argument("--frames", type=Path, required=True)
    child.add_argument("--threads", type=int, default=1)
    child.add_argument("--port", type=int, required=True)
    child.add_argument("--started", type=float, required=True)
    child.add_argument("--models-dir", type=Path, required=True)
    parser.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--limit", type=int, help="only the first N test scenes")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, help="docs/benchmarks.md")
    parser.add_argument("--door-seconds", type=float, help="only the first N s of the door day")
    parser.add_argument("--rounds", type=positive, default=3,
                        help="interleaved runs of each configuration: median, range")  # fmt: skip
    parser.add_argument("--models-dir", type=Path, default=MODELS,
                        help="the folder holding aizoo/ (AIZOO's FaceMaskDetection)")  # fmt: skip
    args = parser.parse_args()
    if args.command == "child":
        print(json.dumps(run_child(args)))
    else:
        run_parent(args)


if __name__ == "__main__":
    main()
