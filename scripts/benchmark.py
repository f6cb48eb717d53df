"""``make bench``: maskwatch against the seeds' pipeline, on the same frames, in one run.

Frames: the held-out test scenes of the saved split at their native size, and a 640x480
"doorway" sequence made from them (each scene scaled so its faces have the sizes a door
camera sees, framed at 640x480, shown for a few frames as a still camera would).

Each pipeline runs in a child process of its own (clean memory figures), one per
thread count, over JPEG bytes held in memory: per-stage median and p95 (decode, detect,
crop and pre-process, classify per frame and per face, track, publish to a loopback
mosquitto), frames per second end to end, peak RSS, and the time from process start
to the first processed frame and the first event. For maskwatch the memory and start
figures come from the real daemon (``maskwatch run``, READY=1 over a notify socket).
Both pipelines are scored with the training issue's scene evaluation on the same
frames. The table goes to stdout and to ``docs/benchmarks.md``.
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

from maskwatch.vision.pipeline import Face
from workbench import door_bench
from workbench.bench_child import MASKWATCH_VARIANTS, child_env, run_child, spawn_child
from workbench.bench_daemon import run_daemon
from workbench.bench_frames import (
    BenchFrame,
    doorway_frames,
    native_frames,
    test_scenes,
    write_frames,
)

ROOT = Path(__file__).resolve().parent.parent

STAGE_ROWS = ("decode", "detect", "crop", "classify", "track", "publish")
CONFIG = ROOT / "config" / "maskwatch.toml"
# The seeds as the package runs them, and with predict_on_batch instead of predict.
SEED_VARIANTS = ("seed", "seed-lean")
ONE_THREAD_ONLY = ("maskwatch-640", "maskwatch-viewer", "maskwatch-every-frame", "seed-lean")
DOORWAY_ONLY = ("maskwatch-viewer", "maskwatch-every-frame", "seed-lean")
VIEWER_MAX_COST = 0.10  # the status page with one viewer: at most 10% fewer frames/s


# ---------------------------------------------------------------------------------------
# Scoring and the table


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


def ms(stage: dict | None) -> str:
    if not stage or stage.get("p50") is None:
        return "n/a"
    return f"{stage['p50']:.2f} / {stage['p95']:.2f}"


def ratio(ours: float | None, theirs: float | None, higher_is_better: bool) -> str:
    if not ours or not theirs:
        return ""
    value = ours / theirs if higher_is_better else theirs / ours
    return f"{value:.1f}x"


def stage_rows(ours: dict, seed: dict) -> list[str]:
    rows = []
    names = {"decode": "decode (JPEG)", "detect": "detect", "crop": "crop + pre-process",
             "classify": "classify, per frame", "track": "track",
             "publish": "publish (MQTT)"}  # fmt: skip
    for stage in STAGE_ROWS:
        a, b = ours["stages"].get(stage), seed["stages"].get(stage)
        speedup = ratio(a["p50"] if a else None, b["p50"] if b else None, False)
        rows.append(f"| {names[stage]}, ms p50 / p95 | {ms(a)} | {ms(b)} | {speedup} |")
        if stage == "classify":
            a, b = ours["classify_per_face"], seed["classify_per_face"]
            speedup = ratio(a["p50"], b["p50"], False)
            rows.append(f"| classify, per face, ms p50 / p95 | {ms(a)} | {ms(b)} | {speedup} |")
    return rows


def table(results: dict) -> str:
    door, native = results["doorway"], results["native"]
    ours1, seed1 = door["maskwatch"][1], door["seed"][1]
    lines = [
        f"### 640x480 doorway sequence ({ours1['frames']} frames)",
        "",
        "| figure | maskwatch | seed baseline | maskwatch better by |",
        "|---|---|---|---|",
        *stage_rows(ours1, seed1),
    ]
    for threads in results["threads"]:
        a, b = door["maskwatch"][threads]["fps"], door["seed"][threads]["fps"]
        lines.append(f"| end to end, {threads} thread{'s' * (threads > 1)}, frames/s | "
                     f"{a:.1f} | {b:.1f} | {a / b:.1f}x |")  # fmt: skip
    daemon = results["daemon"]
    lines += [
        f"| peak RSS, MB (maskwatch: the daemon) | {daemon['peak_rss_mb']:.0f} | "
        f"{seed1['peak_rss_mb']:.0f} | {seed1['peak_rss_mb'] / daemon['peak_rss_mb']:.1f}x |",
        f"| start to first processed frame, s | {daemon['first_frame_s']:.2f} | "
        f"{seed1['first_frame_s']:.2f} | {seed1['first_frame_s'] / daemon['first_frame_s']:.1f}x |",
        f"| start to first event, s | {daemon['first_event_s']:.2f} | "
        f"{seed1['first_event_s']:.2f} | |",
        f"| faces found per frame | {ours1['faces_per_frame']:.2f} | "
        f"{seed1['faces_per_frame']:.2f} | |",
        f1_row(door["f1"]),
        *variant_rows(door),
        viewer_row(door),
        *schedule_rows(door),
        *lean_seed_rows(door),
        "",
        f"### Native-size test scenes ({native['maskwatch'][1]['frames']} photos, 1 thread)",
        "",
        "| figure | maskwatch | seed baseline | maskwatch better by |",
        "|---|---|---|---|",
        *stage_rows(native["maskwatch"][1], native["seed"][1]),
    ]
    a, b = native["maskwatch"][1]["fps"], native["seed"][1]["fps"]
    lines += [
        f"| end to end, 1 thread, frames/s | {a:.1f} | {b:.1f} | {a / b:.1f}x |",
        f1_row(native["f1"]),
        *variant_rows(native),
    ]
    return "\n".join(lines)


def f1_row(f1: dict) -> str:
    ours, seed = f1["maskwatch"], f1["seed"]
    return (f"| scene F1 mask / no_mask | {ours['mask']:.3f} / {ours['no_mask']:.3f} | "
            f"{seed['mask']:.3f} / {seed['no_mask']:.3f} | |")  # fmt: skip


def viewer_cost(results: dict) -> float:
    """The share of frames per second one status page viewer costs (negative: none)."""
    return 1.0 - results["maskwatch-viewer"][1]["fps"] / results["maskwatch"][1]["fps"]


def viewer_row(results: dict) -> str:
    """The status page on, one client reading its live view, against nobody watching."""
    run, alone = results["maskwatch-viewer"][1], results["maskwatch"][1]
    return (f"| *status page, one viewer:* end to end, 1 thread, frames/s | {run['fps']:.1f} "
            f"(nobody watching: {alone['fps']:.1f}; cost {viewer_cost(results):+.1%}; "
            f"{run['viewer_pictures']} pictures sent) | | |")  # fmt: skip


def schedule_rows(results: dict) -> list[str]:
    """The classification schedule (the default) against classifying every face every frame."""
    ours, every, seed = (results[p][1] for p in ("maskwatch", "maskwatch-every-frame", "seed"))
    f1 = results["f1"]["maskwatch-every-frame"]
    return [
        f"| *every face classified on every frame:* classify, ms p50 / p95 per frame | "
        f"{ms(ours['stages']['classify'])} (every frame: {ms(every['stages']['classify'])}) "
        f"| | |",
        f"| *every face classified on every frame:* end to end, 1 thread, frames/s | "
        f"{ours['fps']:.1f} (every frame: {every['fps']:.1f}) | {seed['fps']:.1f} | "
        f"{every['fps'] / seed['fps']:.1f}x |",
        f"| *every face classified on every frame:* scene F1 mask / no_mask | "
        f"{f1['mask']:.3f} / {f1['no_mask']:.3f} | | |",
    ]


def lean_seed_rows(results: dict) -> list[str]:
    """The seeds with predict_on_batch: what a seed user tuning for speed would get."""
    ours, lean = results["maskwatch"][1], results["seed-lean"][1]
    per_face = ratio(ours["classify_per_face"]["p50"], lean["classify_per_face"]["p50"], False)
    return [
        f"| *seed with predict_on_batch:* classify, per face, ms p50 / p95 | "
        f"{ms(ours['classify_per_face'])} | {ms(lean['classify_per_face'])} | {per_face} |",
        f"| *seed with predict_on_batch:* end to end, 1 thread, frames/s | {ours['fps']:.1f} | "
        f"{lean['fps']:.1f} | {ours['fps'] / lean['fps']:.1f}x |",
    ]


def variant_rows(results: dict) -> list[str]:
    """maskwatch with the bundle's 640 px detector input instead of the daemon's 320."""
    run, f1, seed = results["maskwatch-640"][1], results["f1"]["maskwatch-640"], results["seed"][1]
    return [
        f"| *with the bundle's 640 px detector:* detect, ms p50 / p95 | "
        f"{ms(run['stages']['detect'])} | | |",
        f"| *with the 640 px detector:* end to end, 1 thread, frames/s | {run['fps']:.1f} | "
        f"{seed['fps']:.1f} | {run['fps'] / seed['fps']:.1f}x |",
        f"| *with the 640 px detector:* scene F1 mask / no_mask | {f1['mask']:.3f} / "
        f"{f1['no_mask']:.3f} | | |",
    ]


def targets(results: dict) -> list[str]:
    door, daemon = results["doorway"], results["daemon"]
    speed = door["maskwatch"][1]["fps"] / door["seed"][1]["fps"]
    ours, seed = door["f1"]["maskwatch"], door["f1"]["seed"]
    lean = door["maskwatch"][1]["fps"] / door["seed-lean"][1]["fps"]
    checks = [
        (f"end to end >= 10x the baseline at 1 thread: {speed:.1f}x (against the seeds "
         f"tuned with predict_on_batch: {lean:.1f}x)", speed >= 10),
        (f"higher scene F1 than the baseline: mask {ours['mask']:.3f} vs {seed['mask']:.3f}, "
         f"no_mask {ours['no_mask']:.3f} vs {seed['no_mask']:.3f}",
         ours["mask"] > seed["mask"] and ours["no_mask"] > seed["no_mask"]),
        (f"daemon peak RSS <= 120 MB: {daemon['peak_rss_mb']:.0f} MB",
         daemon["peak_rss_mb"] <= 120),
        (f"start to first processed frame < 1.5 s: {daemon['first_frame_s']:.2f} s",
         daemon["first_frame_s"] < 1.5),
        (f"one status page viewer costs at most {VIEWER_MAX_COST:.0%} of the frame rate: "
         f"{viewer_cost(door):.1%}", viewer_cost(door) <= VIEWER_MAX_COST),
    ]  # fmt: skip
    return [f"- {'met' if ok else 'MISSED'}: {text}" for text, ok in checks]


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
    from workbench.local_broker import LocalBroker

    scenes = test_scenes(args.data_root, args.limit)
    sets = {"doorway": doorway_frames(scenes), "native": native_frames(scenes)}
    results: dict = {"threads": args.threads}
    with tempfile.TemporaryDirectory(prefix="maskwatch-bench-") as tmp, LocalBroker() as broker:
        for name, frames in sets.items():
            folder = write_frames(frames, Path(tmp) / name)
            runs: dict = defaultdict(dict)
            for pipeline in (*MASKWATCH_VARIANTS, *SEED_VARIANTS):
                if name == "native" and pipeline in DOORWAY_ONLY:
                    continue
                thread_counts = args.threads if name == "doorway" else [1]
                for threads in thread_counts if pipeline not in ONE_THREAD_ONLY else [1]:
                    print(f"bench: {pipeline}, {name} frames, {threads} thread(s)", flush=True)
                    runs[pipeline][threads] = spawn_child(pipeline, folder, threads, broker.port)
            f1 = {p: scene_f1(frames, runs[p][1].pop("predictions")) for p in runs}
            for p in runs:
                for run in runs[p].values():
                    run.pop("predictions", None)
            results[name] = {**runs, "f1": f1}
        print("bench: maskwatch run (the daemon) over the doorway frames", flush=True)
        results["daemon"] = run_daemon(Path(tmp) / "doorway", broker.port)
    print("bench: a day at the door, today's daemon and motion gating", flush=True)
    results["door"] = run_door_day(args.data_root, args.door_seconds)
    text = table(results) + "\n\n" + door_bench.table(results["door"])
    checks = targets(results) + door_bench.targets(results["door"])
    print("\n" + text + "\n\nTargets (x86, one thread):\n" + "\n".join(checks))
    if args.out:
        command = " ".join(["python -m scripts.benchmark", *sys.argv[1:]])
        args.out.write_text(render_doc(text, checks, command))
        (args.out.with_suffix(".json")).write_text(json.dumps(results, indent=1) + "\n")
        print(f"\nwrote {args.out} and {args.out.with_suffix('.json')}")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    child = commands.add_parser("child")
    child.add_argument("--pipeline", choices=(*MASKWATCH_VARIANTS, *SEED_VARIANTS), required=True)
    child.add_argument("--frames", type=Path, required=True)
    child.add_argument("--threads", type=int, default=1)
    child.add_argument("--port", type=int, required=True)
    child.add_argument("--started", type=float, required=True)
    parser.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--limit", type=int, help="only the first N test scenes")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, help="docs/benchmarks.md")
    parser.add_argument("--door-seconds", type=float, help="only the first N s of the door day")
    args = parser.parse_args()
    if args.command == "child":
        print(json.dumps(run_child(args)))
    else:
        run_parent(args)


if __name__ == "__main__":
    main()
