"""One benchmark child: one pipeline (a maskwatch variant or the seeds'), one thread count,
every frame, in a process of its own so that memory figures are its alone.
"""

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from maskwatch.core.stats import StageTimes, peak_resident_mb
from maskwatch.vision.pipeline import Face

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "maskwatch.toml"
MODELS = ROOT.parent / "shared" / "models"  # holds aizoo/; the Makefile passes MODELS_DIR
# maskwatch as configured by default, with the bundle's own 640 px detector input, with
# its status page on and one viewer reading the live view, and classifying every face on
# every frame (no classification schedule).
MASKWATCH_VARIANTS = {"maskwatch": [], "maskwatch-640": ["pipeline.detector_max_side=0"],
                      "maskwatch-viewer": ["web.enabled=true"],
                      "maskwatch-every-frame": ["tracking.classify_every=1"]}  # fmt: skip
# The seeds as the package runs them, with predict_on_batch instead of predict, and
# AIZOO's FaceMaskDetection (one SSD that detects and labels: no classify stage).
BASELINE_VARIANTS = ("seed", "seed-lean", "aizoo")


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

    def __init__(self, config, port: int, folder: Path, tracker) -> None:
        from maskwatch.publish.event_queue import EventQueue
        from maskwatch.publish.mqtt import MqttPublisher

        self.queue = EventQueue(folder / "events.sqlite3", 10000)
        mqtt = dataclasses.replace(config.mqtt, port=port)
        self.publisher = MqttPublisher(mqtt, config.homeassistant, "bench", "bench", self.queue)
        self.publisher.start()
        self.tracker = tracker
        self.sent = 0

    def publish(self, events: list, frame_size: tuple[int, int]) -> int:
        from maskwatch.tracking.events import event_payload

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
        import urllib.request

        from maskwatch.service.web import open_status_page

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
            from maskwatch.core.bundle import load_bundle
            from maskwatch.core.clock import Moment
            from maskwatch.core.config import load_config
            from maskwatch.tracking.frame_loop import FrameLoop
            from maskwatch.vision.pipeline import MaskPipeline
            from workbench.local_broker import free_port

            overrides = [*MASKWATCH_VARIANTS[args.pipeline], f"pipeline.threads={args.threads}",
                         f"web.listen=127.0.0.1:{free_port()}"]  # fmt: skip
            config = load_config(CONFIG, overrides, {})
            pipeline = MaskPipeline.from_config(load_bundle(config.bundle.path), config.pipeline)
            loop = FrameLoop.from_config(config, pipeline)
            sink = MaskwatchPublisher(config, args.port, Path(folder), loop.tracker)
            if config.web.enabled:
                viewer = StatusPageViewer(config)
        elif args.pipeline == "aizoo":
            from workbench.aizoo_pipeline import AizooPipeline

            pipeline = AizooPipeline(args.models_dir / "aizoo")
            sink = SeedPublisher(args.port)
        else:
            from workbench.seed_pipeline import SeedPipeline

            pipeline = SeedPipeline(args.threads, lean=args.pipeline == "seed-lean")
            sink = SeedPublisher(args.port)
        predictions, per_face, first_frame, first_event = [], [], None, None
        clock = time.perf_counter()
        for index, jpeg in enumerate(jpegs):
            with times.measure("decode"):
                image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            if isinstance(sink, MaskwatchPublisher):
                classified = loop.labeller.classified
                result = loop.step(image, Moment(index / 10, index / 10), times)
                faces, events = result.faces, result.events
                classified = loop.labeller.classified - classified
            else:
                faces = pipeline.process(image, times)
                classified = 0 if args.pipeline == "aizoo" else len(faces)
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


def spawn_child(
    pipeline: str, frames: Path, threads: int, port: int, models_dir: Path = MODELS
) -> dict:
    started = time.time()
    result = subprocess.run(
        [sys.executable, "-m", "scripts.benchmark", "child", "--pipeline", pipeline,
         "--frames", str(frames), "--threads", str(threads), "--port", str(port),
         "--models-dir", str(models_dir), "--started", repr(started)],
        cwd=ROOT, env=child_env(threads), capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"benchmark child {pipeline} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])
