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
import dataclasses
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.pipeline import Face  # noqa: E402
from edge.stats import StageTimes, peak_resident_mb  # noqa: E402
from scripts import door_bench  # noqa: E402

DOOR_SIZE = (640, 480)
DOOR_FACE_WIDTH = 110  # px: a face 1.5-2 m from a 640x480 door camera
STILL_FRAMES = 5  # frames per scene in the doorway sequence
SOURCES = ("yolo:scenes-yolo", "voc:scenes-voc")
STAGE_ROWS = ("decode", "detect", "crop", "classify", "track", "publish")
CONFIG = ROOT / "config" / "maskwatch.toml"
# maskwatch as configured by default, with the bundle's own 640 px detector input, with
# its status page on and one viewer reading the live view, and classifying every face on
# every frame (no classification schedule).
MASKWATCH_VARIANTS = {"maskwatch": [], "maskwatch-640": ["pipeline.detector_max_side=0"],
                      "maskwatch-viewer": ["web.enabled=true"],
                      "maskwatch-every-frame": ["tracking.classify_every=1"]}  # fmt: skip
# The seeds as the package runs them, and with predict_on_batch instead of predict.
SEED_VARIANTS = ("seed", "seed-lean")
ONE_THREAD_ONLY = ("maskwatch-640", "maskwatch-viewer", "maskwatch-every-frame", "seed-lean")
DOORWAY_ONLY = ("maskwatch-viewer", "maskwatch-every-frame", "seed-lean")
VIEWER_MAX_COST = 0.10  # the status page with one viewer: at most 10% fewer frames/s


# ---------------------------------------------------------------------------------------
# Frames


@dataclass(frozen=True)
class BenchFrame:
    name: str
    jpeg: bytes
    boxes: list[tuple[tuple[int, int, int, int], str]]  # annotated faces: box, label


def test_scenes(data_root: Path, limit: int | None) -> list[tuple[Path, list]]:
    from train.data import read_sources
    from train.evaluate import scene_samples
    from train.split import apply_split

    samples = read_sources(data_root, SOURCES)
    by_image = scene_samples(apply_split(samples, ROOT / "models" / "split.json")["test"])
    return sorted(by_image.items())[:limit]


def native_frames(scenes: list[tuple[Path, list]]) -> list[BenchFrame]:
    return [
        BenchFrame(path.name, path.read_bytes(), [(s.box, s.label) for s in faces])
        for path, faces in scenes
    ]


def doorway_frame(image: np.ndarray, faces: list) -> tuple[np.ndarray, list]:
    """The scene scaled so its median face is DOOR_FACE_WIDTH wide, framed at 640x480
    around its faces (grey where the photo ends); the boxes moved the same way."""
    widths = [s.box[2] - s.box[0] for s in faces]
    scale = float(np.clip(DOOR_FACE_WIDTH / max(np.median(widths), 1), 0.5, 4.0))
    scaled = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA
                        if scale < 1 else cv2.INTER_LINEAR)  # fmt: skip
    cx = np.mean([(s.box[0] + s.box[2]) / 2 for s in faces]) * scale
    cy = np.mean([(s.box[1] + s.box[3]) / 2 for s in faces]) * scale
    width, height = DOOR_SIZE
    left = int(np.clip(cx - width / 2, 0, max(scaled.shape[1] - width, 0)))
    top = int(np.clip(cy - height / 2, 0, max(scaled.shape[0] - height, 0)))
    canvas = np.full((height, width, 3), 127, np.uint8)
    window = scaled[top : top + height, left : left + width]
    canvas[: window.shape[0], : window.shape[1]] = window
    boxes = []
    for s in faces:
        x1, y1, x2, y2 = (round(v * scale) for v in s.box)
        box = (x1 - left, y1 - top, x2 - left, y2 - top)
        inside = max(0, min(box[2], window.shape[1]) - max(box[0], 0)) * max(
            0, min(box[3], window.shape[0]) - max(box[1], 0)
        )
        if inside >= 0.5 * (box[2] - box[0]) * (box[3] - box[1]):
            boxes.append((tuple(max(0, v) for v in box), s.label))
    return canvas, boxes


def doorway_frames(scenes: list[tuple[Path, list]]) -> list[BenchFrame]:
    frames = []
    for path, faces in scenes:
        canvas, boxes = doorway_frame(cv2.imread(str(path)), faces)
        jpeg = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
        frames += [BenchFrame(f"{path.stem}_{k}.jpg", jpeg, boxes) for k in range(STILL_FRAMES)]
    return frames


def write_frames(frames: list[BenchFrame], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(frames):
        (folder / f"{index:05d}_{frame.name}").write_bytes(frame.jpeg)
    return folder


# ---------------------------------------------------------------------------------------
# The child: one pipeline, one thread count, every frame


class SeedPublisher:
    """What a seed user adds for MQTT: every face of every frame, QoS 1, no tracking."""

    def __init__(self, port: int) -> None:
        import paho.mqtt.client as mqtt

        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="seed-bench")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.sent = 0

    def publish(self, faces: list[Face]) -> int:
        for face in faces:
            self.client.publish("seed/events", json.dumps(face.as_json()), qos=1)
        self.sent += len(faces)
        return len(faces)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class MaskwatchPublisher:
    """The daemon's own path: tracker -> durable queue -> MQTT."""

    def __init__(self, config, port: int, folder: Path) -> None:
        from edge.event_queue import EventQueue
        from edge.mqtt import MqttPublisher
        from edge.tracker import Tracker

        self.queue = EventQueue(folder / "events.sqlite3", 10000)
        mqtt = dataclasses.replace(config.mqtt, port=port)
        self.publisher = MqttPublisher(mqtt, config.homeassistant, "bench", "bench", self.queue)
        self.publisher.start()
        self.tracker = Tracker(config.tracking)
        self.sent = 0

    def publish(self, events: list, frame_size: tuple[int, int]) -> int:
        from edge.events import event_payload

        for event in events:
            self.publisher.publish_event(
                event_payload(event.kind, event.track, frame_size, "b", "bench", True)
            )
        self.sent += len(events)
        return len(events)

    def close(self) -> None:
        self.publisher.stop()
        self.queue.close()


class StatusPageViewer:
    """The daemon's status page, served as ``maskwatch run`` serves it, with one client
    reading its live view (MJPEG) the whole time, as an open browser tab does."""

    def __init__(self, config) -> None:
        import threading
        import urllib.request

        from edge.web import open_status_page

        self.server = open_status_page(config)
        self.server.start(dict)
        host, port = config.web.address
        self.stream = urllib.request.urlopen(f"http://{host}:{port}/stream.mjpg", timeout=30)
        while not self.server.view.status()["stream"]["viewers"]:
            time.sleep(0.01)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while self.stream.read(65536):
            pass

    def offer(self, image: np.ndarray, faces: list[Face], tracks: list, events: list) -> None:
        self.server.view.offer(image, faces, tracks, events)

    def close(self) -> int:
        """Stop serving; returns how many pictures the viewer was sent."""
        encodes = self.server.view.encodes
        self.server.stop()
        self.stream.close()
        self.reader.join(timeout=5)
        return encodes


def run_child(args: argparse.Namespace) -> dict:
    cv2.setNumThreads(args.threads)  # the seed's res10 too; maskwatch's pipeline sets it itself
    jpegs = [path.read_bytes() for path in sorted(args.frames.iterdir())]
    times = StageTimes(window=len(jpegs) + 1)
    viewer = None
    with tempfile.TemporaryDirectory() as folder:
        if args.pipeline in MASKWATCH_VARIANTS:
            from edge.bundle import load_bundle
            from edge.clock import Moment
            from edge.config import load_config
            from edge.pipeline import MaskPipeline
            from edge.schedule import ClassificationSchedule, FaceLabeller
            from scripts.local_broker import free_port

            overrides = [*MASKWATCH_VARIANTS[args.pipeline], f"pipeline.threads={args.threads}",
                         f"web.listen=127.0.0.1:{free_port()}"]  # fmt: skip
            config = load_config(CONFIG, overrides, {})
            pipeline = MaskPipeline.from_config(load_bundle(config.bundle.path), config.pipeline)
            sink = MaskwatchPublisher(config, args.port, Path(folder))
            schedule = ClassificationSchedule.from_config(config.tracking)
            labeller = FaceLabeller(pipeline, sink.tracker, schedule)
            if config.web.enabled:
                viewer = StatusPageViewer(config)
        else:
            from scripts.seed_pipeline import SeedPipeline

            pipeline = SeedPipeline(args.threads, lean=args.pipeline == "seed-lean")
            sink = SeedPublisher(args.port)
        predictions, per_face, first_frame, first_event = [], [], None, None
        clock = time.perf_counter()
        for index, jpeg in enumerate(jpegs):
            with times.measure("decode"):
                image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            if isinstance(sink, MaskwatchPublisher):
                classified = labeller.classified
                faces, events = labeller.step(image, Moment(index / 10, index / 10), None, times)
                classified = labeller.classified - classified
            else:
                faces = pipeline.process(image, times)
                classified = len(faces)
            if classified:
                per_face.append(times.last("classify") / classified)
            if isinstance(sink, MaskwatchPublisher):
                with times.measure("publish"):
                    sent = sink.publish(events, (image.shape[1], image.shape[0]))
                if viewer is not None:
                    viewer.offer(image, faces, sink.tracker.tracks, events)
            else:
                with times.measure("publish"):
                    sent = sink.publish(faces)
            first_frame = first_frame or time.time() - args.started
            if sent and first_event is None:
                first_event = time.time() - args.started
            predictions.append([[list(f.box), f.label] for f in faces])
        seconds = time.perf_counter() - clock
        sink.close()
        viewer_pictures = viewer.close() if viewer is not None else None
    return {
        "frames": len(jpegs),
        "viewer_pictures": viewer_pictures,
        "fps": len(jpegs) / seconds,
        "stages": times.summary(),
        "classify_per_face": {"p50": float(np.median(per_face)) if per_face else None,
                              "p95": float(np.percentile(per_face, 95)) if per_face else None},
        "faces_per_frame": float(np.mean([len(p) for p in predictions])),
        "first_frame_s": first_frame,
        "first_event_s": first_event,
        "peak_rss_mb": peak_resident_mb(),
        "predictions": predictions,
    }  # fmt: skip


def child_env(threads: int) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
            "TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": str(threads),
            "TF_CPP_MIN_LOG_LEVEL": "2"}  # fmt: skip


def spawn_child(pipeline: str, frames: Path, threads: int, port: int) -> dict:
    started = time.time()
    result = subprocess.run(
        [sys.executable, "-m", "scripts.benchmark", "child", "--pipeline", pipeline,
         "--frames", str(frames), "--threads", str(threads), "--port", str(port),
         "--started", repr(started)],
        cwd=ROOT, env=child_env(threads), capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"benchmark child {pipeline} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------
# The real daemon: cold start and peak memory


def drain_notify(notify: socket.socket, daemon: subprocess.Popen) -> None:
    """Read and drop the daemon's sd_notify messages until it exits."""
    notify.settimeout(0.5)
    while daemon.poll() is None:
        try:
            notify.recv(4096)
        except TimeoutError:
            continue


def run_daemon(frames: Path, port: int) -> dict:
    """``maskwatch run`` with the default config over ``frames``: READY=1 (first processed
    frame) and the first event, timed from process start; peak RSS as the daemon's last
    stats message reports it (the kernel's VmHWM)."""
    from scripts.local_broker import Listener

    listener = Listener(port, "maskwatch/+/events")
    stats = Listener(port, "maskwatch/+/stats")
    with tempfile.TemporaryDirectory(prefix="mw-") as folder:
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(f"{folder}/notify")
        notify.settimeout(60)
        started = time.time()
        daemon = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "run", "--config", "config/maskwatch.toml",
             "--set", f"mqtt.port={port}", "--set", f"source.path={frames}",
             "--set", f"queue.path={folder}/events.sqlite3"],
            cwd=ROOT, env={**child_env(1), "NOTIFY_SOCKET": f"{folder}/notify"},
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        ready = None
        while ready is None:
            if notify.recv(4096).startswith(b"READY=1"):
                ready = time.time() - started
        # Keep reading: a datagram socket holds 10 messages, and the daemon's next status
        # message would block it once they pile up (a run longer than about 10 s).
        drain = threading.Thread(target=drain_notify, args=(notify, daemon), daemon=True)
        drain.start()
        listener.wait_for(lambda lst: lst.messages, timeout=60)
        first_event = time.time() - started if listener.messages else None
        _, stderr = daemon.communicate()
        drain.join()
        notify.close()
    listener.close()
    stats.close()
    if daemon.returncode != 0 or not stats.messages:
        raise SystemExit(f"maskwatch run failed:\n{stderr[-3000:]}")
    last = json.loads(stats.messages[-1][1])
    return {"first_frame_s": ready, "first_event_s": first_event,
            "peak_rss_mb": last["peak_rss_mb"]}  # fmt: skip


# ---------------------------------------------------------------------------------------
# Scoring and the table


def scene_f1(frames: list[BenchFrame], predictions: list) -> dict[str, float]:
    from train.datasets import FaceSample
    from train.evaluate import SceneTally

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
    from scripts.local_broker import LocalBroker

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
