"""``maskwatch run``: frames in, per-person events (new / update / end) out over MQTT.

Durations (tracking, stats intervals) run on the monotonic clock; between frames, and
while the camera delivers none, the people in view still age and end on time. systemd's
watchdog is fed only while the frame loop, the MQTT sender and paho's network thread
all live.
"""

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType

import cv2
import numpy as np

from maskwatch.core.bundle import load_bundle
from maskwatch.core.clock import Clock, MediaClock, Moment, SystemClock
from maskwatch.core.config import Config
from maskwatch.core.stats import (
    CpuRate,
    FrameRate,
    StageTimes,
    cpu_temperature,
    detection_status,
    peak_resident_mb,
    resident_mb,
)
from maskwatch.publish.mqtt import MqttPublisher, read_password
from maskwatch.publish.outbox import Outbox
from maskwatch.service.pacing import FramePacer
from maskwatch.service.sources import Frame, FrameSource, LiveSource, open_source
from maskwatch.service.systemd import Notifier
from maskwatch.service.web import open_status_page
from maskwatch.tracking.events import event_payload, in_view_entry, new_run_id, recovered_end
from maskwatch.tracking.frame_loop import FrameLoop
from maskwatch.tracking.tracker import TrackEvent
from maskwatch.vision.pipeline import MaskPipeline

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

    def __init__(self, config: Config, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock(config.clock.trusted)
        self.run_id = new_run_id()
        bundle = load_bundle(config.bundle.path)
        self.pipeline = MaskPipeline.from_config(bundle, config.pipeline)
        self.loop = FrameLoop.from_config(config, self.pipeline)
        self.tracker, self.planner = self.loop.tracker, self.loop.planner
        self.media_clock: MediaClock | None = None  # a recording's own clock, once it plays
        self.queue = Outbox.from_config(config.queue)
        if self.queue.depth():
            log.info("%d events queued by an earlier run are sent first", self.queue.depth())
        self.publisher = MqttPublisher(
            config.mqtt, config.homeassistant, config.device_slug, config.device_id,
            self.queue, read_password(config.mqtt),
        )  # fmt: skip
        self._end_people_left_in_view()
        self.web = open_status_page(config) if config.web.enabled else None
        self.times = StageTimes()
        self.rate = FrameRate()
        self.cpu = CpuRate()
        self.notifier = Notifier()
        self.started = time.monotonic()
        self.events_made = self.faces_seen = 0
        self.frame_size = (0, 0)
        self._state: tuple[int, int, int] | None = None
        self._fps = 0.0
        self._detection: dict[str, float] = {}
        self._next_stats = self.started + config.mqtt.stats_interval

    def _end_people_left_in_view(self) -> None:
        """The ``end`` events an earlier run could not send: it died with people in view."""
        for last in self.queue.left_in_view():
            end = recovered_end(last)
            self.publisher.publish_event(end, in_view_entry(end))
            log.info("track %s of run %s ended: it was in view when that run died",
                     last["track_id"], last["run_id"])  # fmt: skip

    def _emit(self, events: list[TrackEvent], frame: Frame | None) -> None:
        for event in events:
            payload = event_payload(
                event.kind,
                event.track,
                self.frame_size,
                self.config.device_id,
                self.run_id,
                self.clock.synced(),
            )
            self.publisher.publish_event(payload, in_view_entry(payload))
            self.events_made += 1
            if frame is not None and event.kind == "new" and self.config.snapshot.enabled:
                box = event.track.face.box if self.config.snapshot.kind == "face" else None
                jpeg = snapshot_jpeg(frame.image, box, self.config.snapshot.quality)
                self.publisher.publish_snapshot(jpeg)
        counts = self.tracker.counts()
        state = (counts["mask"], counts["no_mask"], counts["mask_incorrect"])
        if state != self._state:
            self.publisher.publish_state(*state)
            self._state = state

    def frame_time(self, frame: Frame) -> Moment:
        """When ``frame`` was taken: now for a camera, its place in the recording for a
        video (so the daemon tracks a file exactly as ``replay`` does)."""
        if frame.offset is None:
            return self.clock.now()
        if self.media_clock is None:
            self.media_clock = MediaClock(self.clock.now())
        return self.media_clock.at(frame.offset)

    def handle(self, frame: Frame) -> None:
        at = self.frame_time(frame)
        self.times.record("read", frame.read_ms)
        self.times.record("decode", frame.decode_ms)
        result = self.loop.step(frame.image, at, self.times)
        faces, events = result.faces, result.events
        self.frame_size = (frame.image.shape[1], frame.image.shape[0])
        with self.times.measure("publish"):
            self._emit(events, frame)
        self.faces_seen += len(faces)
        self.rate.tick()
        if self.web is not None:
            self.web.view.offer(frame.image, faces, self.tracker.tracks, events)
        log.debug("%s: %d faces", frame.name, len(faces))

    def status(self, source: FrameSource) -> str:
        people = sum(self.tracker.counts().values())
        return (
            f"{self._fps:.1f} fps{detection_status(self._detection)}, {people} in view, "
            f"queue {self.queue.depth()}; {source.status}"
        )

    def health(self, source: FrameSource) -> dict:
        """What the stats topic and the status page share; read in the frame loop only."""
        return {
            "dropped_frames": source.dropped,
            "latency_ms": self.times.summary(),
            "queue_depth": self.queue.depth(),
            "queue_overflowed": self.queue.overflowed(),
            "queue": self.queue.health().as_json(),
            "clock_synced": self.clock.synced(),
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
        self._detection = {**self.planner.stats.take(), "cpu_s_per_hour": self.cpu.take()}
        return {
            **self._detection,
            "uptime_s": round(time.monotonic() - self.started, 1),
            "frames": self.rate.frames,
            "fps": self._fps,
            **self.health(source),
            "events": self.events_made,
            "rss_mb": resident_mb(),
            "peak_rss_mb": peak_resident_mb(),
        }

    def watch_queue(self) -> None:
        """The card taking writes again, and every change of the queue's health, retained."""
        self.queue.retry_if_due()
        if self.queue.changed.is_set():
            self.queue.changed.clear()
            self.publisher.publish_queue_health(self.queue.health().as_json())

    def maybe_publish_stats(self, source: FrameSource) -> None:
        now = time.monotonic()
        if now >= self._next_stats:
            self._next_stats = now + self.config.mqtt.stats_interval
            self.publisher.publish_stats(self.stats(source))

    def run(self, stop: StopFlag) -> int:
        source = open_source(self.config.source)
        self.queue.changed.set()  # the queue's health, retained from the start
        self.publisher.start()
        if self.web is not None:
            self.web.start(lambda: self.page_health(source))
        frames = source.frames()
        pacer = FramePacer(self.config.source.max_fps, stop.event.wait)
        try:
            while not stop.event.is_set():
                pacer.pace()
                frame = next(frames, StopIteration)
                if frame is StopIteration:
                    break
                healthy = self.publisher.supervise()
                if frame is not None:
                    self.handle(frame)
                    if healthy:
                        self.notifier.frame_done(lambda: self.status(source))
                else:  # no frame: the people in view still age, and end on time
                    ended = self.loop.idle(self.clock.now().monotonic)
                    self._emit(ended, None)
                    if self.web is not None:
                        self.web.view.update(self.tracker.tracks, ended)
                    if healthy and isinstance(source, LiveSource) and source.waiting_to_reopen:
                        self.notifier.idle(lambda: self.status(source))  # a hung camera: not
                self.watch_queue()
                self.maybe_publish_stats(source)
        finally:
            queued = self._shut_down(source, frames)
        if queued:
            log.warning("%d events stay queued in %s; they are sent at the next start",
                        queued, self.config.queue.file)  # fmt: skip
        return 0

    def _shut_down(self, source: FrameSource, frames: Iterator) -> int:
        """Each step on its own: one that fails is logged and the others still run, and an
        exception that ended the frame loop is not hidden. Returns the events left queued."""
        queued = 0

        def step(what: str, action: Callable[[], object]) -> None:
            try:
                action()
            except Exception as error:  # noqa: BLE001  (logged; shutting down regardless)
                log.error("while stopping, %s failed: %s: %s", what, type(error).__name__, error)

        def stop_publisher() -> None:
            nonlocal queued
            queued = self.publisher.stop(timeout=2.5)  # SIGTERM to exit: under 5 s in all

        step("notifying systemd", self.notifier.stopping)
        if self.web is not None:
            step("stopping the status page", self.web.stop)
        step("closing the source", lambda: (frames.close(), source.close()))
        # the people in view leave with the daemon
        step("ending the tracks", lambda: self._emit(self.loop.finish(), None))
        step("sending stats", lambda: self.publisher.publish_stats(self.stats(source)))
        step("stopping MQTT", stop_publisher)
        step("closing the queue", self.queue.close)
        seconds = time.monotonic() - self.started
        log.info("processed %d frames, %d faces, %d events in %.1f s", self.rate.frames,
                 self.faces_seen, self.events_made, seconds)  # fmt: skip
        return queued


def run(config: Config, stop: StopFlag | None = None, clock: Clock | None = None) -> int:
    """Run until the source ends or a stop signal; returns the process exit code."""
    if stop is None:
        stop = StopFlag()
        stop.install()
    return Daemon(config, clock).run(stop)
