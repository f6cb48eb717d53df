"""``maskwatch run``: frames in, per-person events (new / update / end) out over MQTT."""

import logging
import signal
import threading
import time
from types import FrameType

from edge.bundle import load_bundle
from edge.config import Config
from edge.events import EventFactory
from edge.mqtt import MqttPublisher
from edge.pipeline import MaskPipeline
from edge.sources import open_source
from edge.tracker import Tracker

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


def publish_state_on_change(
    publisher: MqttPublisher, tracker: Tracker, last: tuple[int, int] | None
) -> tuple[int, int]:
    """Publish the retained state when the confirmed people in view change."""
    counts = tracker.counts()
    state = (counts["mask"], counts["no_mask"])
    if state != last:
        publisher.publish_state(*state)
    return state


def run(config: Config, stop: StopFlag | None = None) -> int:
    """Run until the source ends or a stop signal; returns the process exit code."""
    if stop is None:
        stop = StopFlag()
        stop.install()
    bundle = load_bundle(config.bundle.path)
    pipeline = MaskPipeline(bundle, config.pipeline.threads, config.pipeline.runtime)
    frames = open_source(config.source)
    publisher = MqttPublisher(config.mqtt, config.device_slug)
    factory = EventFactory(config.device_id)
    tracker = Tracker(config.tracking)
    publisher.start()
    processed = faces_seen = 0
    frame_size = (0, 0)
    state: tuple[int, int] | None = None
    started = time.monotonic()
    try:
        for frame in frames:
            faces = pipeline.process(frame.image, config.pipeline.min_face)
            frame_size = (frame.image.shape[1], frame.image.shape[0])
            for event in tracker.update(faces, frame.timestamp):
                publisher.publish_event(factory.make(event.kind, event.track, frame_size))
            state = publish_state_on_change(publisher, tracker, state)
            processed += 1
            faces_seen += len(faces)
            log.debug("%s: %d faces", frame.name, len(faces))
            if stop.event.is_set():
                break
    finally:
        for event in tracker.expire():  # the people still in view leave with the daemon
            publisher.publish_event(factory.make(event.kind, event.track, frame_size))
        publish_state_on_change(publisher, tracker, state)
        lost = publisher.stop()
        seconds = time.monotonic() - started
        log.info("processed %d frames, %d faces, %d events in %.1f s", processed, faces_seen,
                 factory.seq, seconds)  # fmt: skip
    if lost:
        log.error("%d events were not acknowledged by the broker before exit", lost)
        return 1
    return 0
