"""A day at the door: today's daemon (the whole frame at ``detector_max_side`` on every
frame) against motion gating with regions, on the same rendered frames in one process.

Each frame of :mod:`workbench.door_scenes`'s sequences goes through both configurations in
turn (motion planning, detection, cropping, classification, tracking: the daemon's
frame path without the MQTT hand-off); each one's process CPU time is summed over its
own work only (one thread: ``OMP_NUM_THREADS=1``, ``cv2.setNumThreads(1)``, TFLite at 1).
The planner's clock is the sequence's own time, so the heartbeat falls where it would
at 15 fps. Scored against the known people: ``new`` events that match a person's face,
people found (near and far), false ``new`` events, duplicates, and the frames from a
person's face being wholly in view to their ``new`` event. The Pi 4 projection weighs
the work each configuration did (detector input pixels, pixels resized, faces
classified afresh, frames) with the per-stage Pi 4 costs of docs/benchmarks.md.
"""

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from maskwatch.core.bundle import load_bundle
from maskwatch.core.clock import Moment
from maskwatch.core.config import load_config
from maskwatch.core.matching import iou_matrix
from maskwatch.tracking.frame_loop import FrameLoop
from maskwatch.vision.pipeline import MaskPipeline
from maskwatch.vision.regions import input_pixels
from workbench import door_scenes
from workbench.door_stage import build_stage

ROOT = Path(__file__).resolve().parent.parent

CONFIG = ROOT / "config" / "maskwatch.toml"
MASK = "motion.mask=[[" + ", ".join(str(v) for v in door_scenes.PLANT_MASK) + "]]"
# "today": the daemon as it shipped before motion gating (whole frame at 320 px, every
# frame, every face classified, faces linked to people by overlap only).
CONFIGURATIONS = {
    "today": [
        "motion.enabled=false",
        "pipeline.detector_max_side=320",
        "tracking.classify_every=1",
        "tracking.max_shift=0",
    ],  # fmt: skip
    "motion": [MASK],
}
MATCH_IOU = 0.3
# Pi 4, one thread, from docs/benchmarks.md's per-stage table: YuNet ~31 ms at 320x180,
# a resize reading a 1280x720 frame ~2 ms, crop + classify ~6.5 ms a face classified
# (EfficientNet-Lite0 cut after five stages, 44.7 M MACs), the tracker,
# queue and MQTT under 1 ms a frame.
PI4_DETECT_MS_PER_PIXEL = 31.0 / (320 * 180)
PI4_RESIZE_MS_PER_PIXEL = 2.0 / (1280 * 720)
PI4_FACE_MS = 6.5
PI4_FRAME_MS = 1.0


class Run:
    """One configuration over a sequence: the daemon's frame path, with its work counted."""

    def __init__(self, overrides: list[str]) -> None:
        config = load_config(CONFIG, [*overrides, "pipeline.threads=1"], {})
        bundle = load_bundle(config.bundle.path)
        self.pipeline = MaskPipeline.from_config(bundle, config.pipeline)
        self.loop = FrameLoop.from_config(config, self.pipeline)
        self.cpu = 0.0
        self.work = {"frames": 0, "detector_pixels": 0.0, "resized_pixels": 0.0, "faces": 0,
                     "runs": 0, "regions": 0, "motion_frames": 0}  # fmt: skip
        self.new_events: list[tuple[int, tuple]] = []

    def step(self, image: np.ndarray, frame: int) -> None:
        now = frame / door_scenes.FPS
        started = time.process_time()
        result = self.loop.step(image, Moment(now, now))
        self.cpu += time.process_time() - started
        self._count(image, result.plan, sum(f.classified for f in result.faces))
        self.new_events += [(frame, e.track.face.box) for e in result.events if e.kind == "new"]

    def _count(self, image: np.ndarray, plan, classified: int) -> None:
        height, width = image.shape[:2]
        work = self.work
        work["frames"] += 1
        work["faces"] += classified
        work["runs"] += plan.detector_runs
        work["motion_frames"] += plan.motion
        if self.loop.planner.config.enabled:
            work["resized_pixels"] += width * height  # the small grey copy for motion
        if plan.regions is None:
            work["detector_pixels"] += input_pixels(width, height, self.pipeline.full_frame_side)
            work["resized_pixels"] += width * height
            return
        work["regions"] += len(plan.regions)
        for region in plan.regions:
            x1, y1, x2, y2 = region.box
            work["detector_pixels"] += region.cost
            if region.scale < 1.0:
                work["resized_pixels"] += (x2 - x1) * (y2 - y1)


def pi4_core_hours_per_day(work: dict, seconds: float) -> float:
    ms = (work["detector_pixels"] * PI4_DETECT_MS_PER_PIXEL
          + work["resized_pixels"] * PI4_RESIZE_MS_PER_PIXEL
          + work["faces"] * PI4_FACE_MS + work["frames"] * PI4_FRAME_MS)  # fmt: skip
    return ms / 1000.0 / seconds * 24.0


def score(sequence: door_scenes.DoorSequence, new_events: list[tuple[int, tuple]]) -> dict:
    """Each ``new`` event matched to the person whose face it overlaps in its frame."""
    first_frame: dict[int, int] = {}
    for frame in range(sequence.frames):
        for seen in sequence.people(frame):
            first_frame.setdefault(seen.person, frame)
    found: dict[int, int] = {}
    false = duplicates = 0
    for frame, box in new_events:
        people = [a.person for a in sequence.people(frame, whole=False)
                  if iou_matrix([a.face], [box])[0, 0] >= MATCH_IOU]  # fmt: skip
        if not people:
            false += 1
        elif people[0] in found:
            duplicates += 1
        else:
            found[people[0]] = frame
    walkers = sequence.walkers
    kinds = {kind: [k for k in first_frame if walkers[k].kind == kind] for kind in ("near", "far")}
    latency = {str(k): found[k] - first_frame[k] for k in sorted(found)}  # by person
    return {
        "people": len(first_frame),
        **{f"{kind}_people": len(ks) for kind, ks in kinds.items()},
        **{f"{kind}_found": sum(k in found for k in ks) for kind, ks in kinds.items()},
        "false_new": false,
        "duplicate_new": duplicates,
        "latency_frames": latency,
    }


def run_sequence(sequence: door_scenes.DoorSequence) -> dict:
    runs = {name: Run(overrides) for name, overrides in CONFIGURATIONS.items()}
    for frame in range(sequence.frames):
        image = sequence.render(frame)
        for run in runs.values():
            run.step(image, frame)
    seconds = sequence.frames / door_scenes.FPS
    results = {}
    for name, run in runs.items():
        frames = max(run.work["frames"], 1)
        results[name] = {
            "cpu_s": run.cpu,
            "cpu_s_per_hour": run.cpu / seconds * 3600.0,
            "detector_runs_per_frame": run.work["runs"] / frames,
            "regions_per_frame": run.work["regions"] / frames,
            "motion_share": run.work["motion_frames"] / frames,
            "pi4_core_hours_per_day": pi4_core_hours_per_day(run.work, seconds),
            **score(sequence, run.new_events),
        }
    empty = sum(not sequence.people(f) for f in range(sequence.frames)) / sequence.frames
    return {"frames": sequence.frames, "seconds": seconds, "empty_share": empty, **results}


def build_sequences(data_root: Path, seconds: float | None) -> dict[str, door_scenes.DoorSequence]:
    stage = build_stage(data_root, load_bundle(ROOT / "bundle"))
    sprites = stage.sprites(8)
    day = min(seconds or door_scenes.DAY_SECONDS, door_scenes.DAY_SECONDS)
    busy = min(seconds or door_scenes.BUSY_SECONDS, door_scenes.BUSY_SECONDS)
    return {
        "day": door_scenes.DoorSequence(stage.background, sprites, door_scenes.DAY, day,
                                        door_scenes.DAY_EXPOSURE_STEP),
        "busy": door_scenes.DoorSequence(stage.background, sprites, door_scenes.BUSY, busy, None),
    }  # fmt: skip


def run(data_root: Path, seconds: float | None) -> dict:
    cv2.setNumThreads(1)
    return {name: run_sequence(seq) for name, seq in build_sequences(data_root, seconds).items()}


def latency(values: list[int]) -> str:
    return f"{np.median(values):g} / {max(values)}" if values else "n/a"


def common_latencies(today: dict, motion: dict) -> tuple[list[int], list[int]]:
    """Frames to ``new`` for the people both configurations found, in the same order."""
    people = sorted(set(today["latency_frames"]) & set(motion["latency_frames"]))
    return ([today["latency_frames"][p] for p in people],
            [motion["latency_frames"][p] for p in people])  # fmt: skip


def table(results: dict) -> str:
    day, busy = results["day"], results["busy"]
    today, motion = day["today"], day["motion"]
    ratio = motion["cpu_s_per_hour"] / max(today["cpu_s_per_hour"], 1e-9)
    busy_ratio = busy["motion"]["cpu_s_per_hour"] / max(busy["today"]["cpu_s_per_hour"], 1e-9)
    both_today, both_motion = common_latencies(today, motion)
    busy_today, busy_motion = common_latencies(busy["today"], busy["motion"])

    def row(name: str, key: str, fmt: str = "{:.0f}", note: str = "") -> str:
        return f"| {name} | {fmt.format(today[key])} | {fmt.format(motion[key])} | {note} |"

    lines = [
        f"### A day at the door ({day['seconds']:.0f} s at 1280x720, 15 fps, "
        f"{day['empty_share']:.0%} of frames empty; busy: {busy['seconds']:.0f} s, "
        f"{busy['empty_share']:.0%} empty)",
        "",
        "| figure | today (whole frame at 320 px, every frame) | motion gating + regions | |",
        "|---|---|---|---|",
        row("CPU seconds per hour, x86, 1 thread", "cpu_s_per_hour", note=f"{ratio:.0%}"),
        f"| people found, near | {today['near_found']} of {today['near_people']} | "
        f"{motion['near_found']} of {motion['near_people']} | |",
        f"| people found, far (faces 20-40 px) | {today['far_found']} of {today['far_people']} "
        f"| {motion['far_found']} of {motion['far_people']} | |",
        row("false `new` events", "false_new"),
        row("duplicate `new` events (a person found twice)", "duplicate_new"),
        f"| frames from first full view to `new`, median / max, people both found "
        f"({len(both_today)}) | {latency(both_today)} | {latency(both_motion)} | |",
        f"| the same, every person each found | "
        f"{latency(list(today['latency_frames'].values()))} | "
        f"{latency(list(motion['latency_frames'].values()))} | |",
        row("frames with motion", "motion_share", "{:.0%}"),
        row("detector runs per frame", "detector_runs_per_frame", "{:.2f}"),
        row("regions per frame", "regions_per_frame", "{:.2f}"),
        row("Pi 4 projection, core-hours per day", "pi4_core_hours_per_day", "{:.1f}"),
        f"| busy sequence: CPU seconds per hour | {busy['today']['cpu_s_per_hour']:.0f} | "
        f"{busy['motion']['cpu_s_per_hour']:.0f} | {busy_ratio:.0%} |",
        f"| busy sequence: people found near / far | {busy['today']['near_found']} / "
        f"{busy['today']['far_found']} of {busy['today']['near_people']} / "
        f"{busy['today']['far_people']} | {busy['motion']['near_found']} / "
        f"{busy['motion']['far_found']} | |",
        row_busy_latency(busy_today, busy_motion),
        f"| busy sequence: false / duplicate `new` events | {busy['today']['false_new']} / "
        f"{busy['today']['duplicate_new']} | {busy['motion']['false_new']} / "
        f"{busy['motion']['duplicate_new']} | |",
        f"| busy sequence: Pi 4 projection, core-hours per day | "
        f"{busy['today']['pi4_core_hours_per_day']:.1f} | "
        f"{busy['motion']['pi4_core_hours_per_day']:.1f} | |",
    ]
    return "\n".join(lines)


def row_busy_latency(today: list[int], motion: list[int]) -> str:
    return (f"| busy sequence: frames to `new`, median / max, people both found ({len(today)}) "
            f"| {latency(today)} | {latency(motion)} | |")  # fmt: skip


def targets(results: dict) -> list[str]:
    day, busy = results["day"], results["busy"]
    today, motion = day["today"], day["motion"]
    ratio = motion["cpu_s_per_hour"] / max(today["cpu_s_per_hour"], 1e-9)
    busy_ratio = busy["motion"]["cpu_s_per_hour"] / max(busy["today"]["cpu_s_per_hour"], 1e-9)
    found = lambda r: r["near_found"] + r["far_found"]  # noqa: E731
    both_today, both_motion = common_latencies(today, motion)
    extra = (np.median(both_motion) - np.median(both_today), max(both_motion) - max(both_today)
             ) if both_today else (float("nan"), float("nan"))  # fmt: skip
    checks = [
        (f"day CPU with motion <= 25% of today's: {ratio:.0%}", ratio <= 0.25),
        (f"people found >= today's: {found(motion)} vs {found(today)}; far faces more than "
         f"today: {motion['far_found']} vs {today['far_found']}",
         found(motion) >= found(today) and motion["far_found"] > today["far_found"]),
        (f"false new events <= today's: {motion['false_new']} vs {today['false_new']}",
         motion["false_new"] <= today["false_new"]),
        (f"latency, people both found: at most 2 frames more than today's, median "
         f"{extra[0]:+g} and max {extra[1]:+g} frames", max(extra) <= 2),
        (f"duplicate new events <= today's: {motion['duplicate_new']} vs "
         f"{today['duplicate_new']}", motion["duplicate_new"] <= today["duplicate_new"]),
        (f"busy sequence CPU <= 110% of today's: {busy_ratio:.0%}", busy_ratio <= 1.10),
    ]  # fmt: skip
    return [f"- {'met' if ok else 'MISSED'}: {text}" for text, ok in checks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--seconds", type=float, help="only the first N seconds of each sequence")
    parser.add_argument("--table", action="store_true", help="the table, not the JSON")
    args = parser.parse_args()
    results = run(args.data_root, args.seconds)
    if args.table:
        print(table(results) + "\n\n" + "\n".join(targets(results)))
    else:
        print(json.dumps(results))
