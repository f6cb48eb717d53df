"""``maskwatch run``: frames in, per-person events (new / update / end) out over MQTT."""

import logging
import signal
import threading
import time
from types import FrameType

import cv2
import numpy as np

from edge.bundle import load_bundle
from edge.config import Config
from edge.event_queue import EventQueue
from edge.events import event_payload
from edge.mqtt import MqttPublisher, read_password
from edge.pipeline import MaskPipeline
from edge.sources import Frame, FrameSource, LiveSource, open_source
from edge.stats import (
    FrameRate,
    StageTimes,
    cpu_temperature,
    peak_resident_mb,
    resident_mb,
)
from edge.systemd import Notifier
from edge.tracker import Tracker, TrackEvent
from edge.web import open_status_page

log = logging.getLogger(__name__)


class StopFlag:
    """Set by SIGTERM / SIGINT; the frame loop checks it between frames."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        self.event.set()


def snapshot_jpeg(image: np.ndarray, box: tuple[int, int, int, int] | None, quality: int) -> bytes:
    """The whole frame (``box`` None) or one face of it, as JPEG bytes."""
    if box is not None:
        x1, y1, x2, y2 = box
        image = image[max(0, y1) : y2, max(0, x1) : x2]
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return data.tobytes() if ok else b""


class Daemon:
    """One frame loop: source -> pipeline -> tracker -> queue -> MQTT, with stats."""

    def __init__(self, config: Config) -> None:
        self.config = config
        bundle = load_bundle(config.bundle.path)
        self.pipeline = MaskPipeline.from_config(bundle, config.pipeline)
        self.queue = EventQueue(config.queue.file, config.queue.max_events)
        if self.queue.depth():
            log.info("%d events queued by an earlier run are sent first", self.queue.depth())
        self.publisher = MqttPublisher(
            config.mqtt, config.homeassistant, config.device_slug, config.device_id,
            self.queue, read_password(config.mqtt),
        )  # fmt: skip
        self.tracker = Tracker(config.tracking, config.pipeline.min_label_score)
        self.web = open_status_page(config) if config.web.enabled else None
        self.times = StageTimes()
        self.rate = FrameRate()
        self.notifier = Notifier()
        self.started = time.monotonic()
        self.events_made = self.faces_seen = 0
        self.frame_size = (0, 0)
        self._state: tuple[int, int] | None = None
        self._fps = 0.0
        self._next_stats = self.started + config.mqtt.stats_interval

    def _emit(self, events: list[TrackEvent], frame: Frame | None) -> None:
        for event in events:
            self.publisher.publish_event(
                event_payload(event.kind, event.track, self.frame_size, self.config.device_id)
            )
            self.events_made += 1
            if frame is not None and event.kind == "new" and self.config.snapshot.enabled:
                box = event.track.face.box if self.config.snapshot.kind == "face" else None
                jpeg = snapshot_jpeg(frame.image, box, self.config.snapshot.quality)
                self.publisher.publish_snapshot(jpeg)
        counts = self.tracker.counts()
        state = (counts["mask"], counts["no_mask"])
        if state != self._state:
            self.publisher.publish_state(*state)
            self._state = state

    def handle(self, frame: Frame) -> None:
        faces = self.pipeline.process(frame.image, self.times)
        self.frame_size = (frame.image.shape[1], frame.image.shape[0])
        with self.times.measure("track"):
            events = self.tracker.update(faces, frame.timestamp)
        with self.times.measure("publish"):
            self._emit(events, frame)
        self.faces_seen += len(faces)
        self.rate.tick()
        if self.web is not None:
            self.web.view.offer(frame.image, faces, self.tracker.tracks, events)
        log.debug("%s: %d faces", frame.name, len(faces))

    def status(self, source: FrameSource) -> str:
        people = sum(self.tracker.counts().values())
        return f"{self._fps:.1f} fps, {people} in view, queue {self.queue.depth()}; {source.status}"

    def health(self, source: FrameSource) -> dict:
        """What the stats topic and the status page share; read in the frame loop only."""
        return {
            "dropped_frames": source.dropped,
            "latency_ms": self.times.summary(),
            "queue_depth": self.queue.depth(),
            "queue_overflowed": self.queue.overflowed(),
            "cpu_temp_c": cpu_temperature(),
            "source": source.status,
        }

    def page_health(self, source: FrameSource) -> dict:
        return {
            **self.health(source),
            "broker_connected": self.publisher.connected.is_set(),
            "camera_reopening": isinstance(source, LiveSource) and source.waiting_to_reopen,
        }

    def stats(self, source: FrameSource) -> dict:
        self._fps = self.rate.take()
        return {
            "uptime_s": round(time.monotonic() - self.started, 1),
            "frames": self.rate.frames,
            "fps": self._fps,
            **self.health(source),
            "events": self.events_made,
            "rss_mb": resident_mb(),
            "peak_rss_mb": peak_resident_mb(),
        }

    def maybe_publish_stats(self, source: FrameSource) -> None:
        now = time.monotonic()
        if now >= self._next_stats:
            self._next_stats = now + self.config.mqtt.stats_interval
            self.publisher.publish_stats(self.stats(source))

    def run(self, stop: StopFlag) -> int:
        source = open_source(self.config.source)
        self.publisher.start()
        if self.web is not None:
            self.web.start(lambda: self.page_health(source))
        frames = source.frames()
        try:
            while not stop.event.is_set():
                with self.times.measure("read"):
                    frame = next(frames, StopIteration)
                if frame is StopIteration:
                    break
                if frame is not None:
                    self.handle(frame)
                    self.notifier.frame_done(lambda: self.status(source))
                elif isinstance(source, LiveSource) and source.waiting_to_reopen:
                    self.notifier.idle(lambda: self.status(source))  # alive; a hung camera: not
                self.maybe_publish_stats(source)
        finally:
            self.notifier.stopping()
            if self.web is not None:
                self.web.stop()
            frames.close()
            source.close()
            self._emit(self.tracker.expire(), None)  # the people in view leave with the daemon
            self.publisher.publish_stats(self.stats(source))
            queued = self.publisher.stop(timeout=2.5)  # SIGTERM to exit: under 5 s in all
            self.queue.close()
            seconds = time.monotonic() - self.started
            log.info("processed %d frames, %d faces, %d events in %.1f s", self.rate.frames,
                     self.faces_seen, self.events_made, seconds)  # fmt: skip
        if queued:
            log.warning("%d events stay queued in %s; they are sent at the next start",
                        queued, self.config.queue.file)  # fmt: skip
        return 0


def run(config: Config, stop: StopFlag | None = None) -> int:
    """Run until the source ends or a stop signal; returns the process exit code."""
    if stop is None:
        stop = StopFlag()
        stop.install()
    return Daemon(config).run(stop)
