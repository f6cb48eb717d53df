"""``maskwatch replay VIDEO``: what the daemon would see and send, without a broker.

Every frame of the video goes through the daemon's pipeline and tracker, on the video's
own clock (frame index / fps), so tracking behaves as it would live. Out come an
annotated copy of the video and the events as JSON lines, numbered as the queue would.
"""

import json
import logging
import time
from pathlib import Path

import cv2

from maskwatch.core.bundle import load_bundle
from maskwatch.core.clock import Moment, SystemClock
from maskwatch.core.config import Config
from maskwatch.core.errors import MaskwatchError, open_output
from maskwatch.core.images import annotate
from maskwatch.service.sources import VideoFile
from maskwatch.tracking.events import event_payload, new_run_id
from maskwatch.tracking.schedule import ClassificationSchedule, FaceLabeller
from maskwatch.tracking.tracker import Tracker
from maskwatch.vision.pipeline import MaskPipeline

log = logging.getLogger(__name__)


def video_time(start: float, offset: float) -> Moment:
    """The moment ``offset`` seconds into the video, on both clocks."""
    return Moment(offset, start + offset)


def replay(config: Config, video: Path, events_path: Path, annotated: Path | None) -> int:
    """Writes the events (and the annotated video); returns how many events there were."""
    pipeline = MaskPipeline.from_config(load_bundle(config.bundle.path), config.pipeline)
    tracker = Tracker(config.tracking, config.pipeline.min_label_score)
    labeller = FaceLabeller(pipeline, tracker, ClassificationSchedule.from_config(config.tracking))
    source = VideoFile(video, loop=False)
    fps, start, run_id = source.fps, time.time(), new_run_id()
    synced = SystemClock(config.clock.trusted).synced()
    writer = None
    seq = frames = 0
    with open_output("--events", events_path) as out:

        def write(events: list, size: tuple[int, int]) -> None:
            nonlocal seq
            for event in events:
                seq += 1
                payload = event_payload(
                    event.kind, event.track, size, config.device_id, run_id, synced
                )
                out.write(json.dumps({**payload, "seq": seq}) + "\n")

        try:
            for frames, frame in enumerate(source.frames(), start=1):
                size = (frame.image.shape[1], frame.image.shape[0])
                faces, events = labeller.step(frame.image, video_time(start, (frames - 1) / fps))
                write(events, size)
                if annotated is not None:
                    if writer is None:
                        fourcc = cv2.VideoWriter_fourcc(*"mp4v")
                        writer = cv2.VideoWriter(str(annotated), fourcc, fps, size)
                        if not writer.isOpened():
                            raise MaskwatchError(
                                f"--annotate {annotated}: OpenCV cannot write this video; "
                                "give a writable path ending in .mp4"
                            )
                    writer.write(annotate(frame.image, faces))
            write(tracker.expire(), size)
        finally:
            if writer is not None:
                writer.release()
    log.info("%s: %d frames, %d events", video.name, frames, seq)
    return seq
