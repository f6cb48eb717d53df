"""``maskwatch replay VIDEO``: what the daemon would see and send, without a broker.

Every frame of the video goes through the daemon's own frame loop
(:class:`~maskwatch.tracking.frame_loop.FrameLoop`: motion gating, regions, detection, the
classification schedule, tracking) on the video's own clock, as the daemon plays a video
file, so the events are the daemon's. Out come the events as JSON lines, numbered as the
queue would, and an annotated copy of the video.
"""

import json
import logging
from pathlib import Path

import cv2

from maskwatch.core.bundle import load_bundle
from maskwatch.core.clock import MediaClock, SystemClock
from maskwatch.core.config import Config
from maskwatch.core.errors import MaskwatchError, open_output
from maskwatch.core.images import annotate
from maskwatch.service.sources import VideoFile
from maskwatch.tracking.events import event_payload, new_run_id
from maskwatch.tracking.frame_loop import FrameLoop
from maskwatch.vision.pipeline import MaskPipeline

log = logging.getLogger(__name__)


def replay(config: Config, video: Path, events_path: Path, annotated: Path | None) -> int:
    """Writes the events (and the annotated video); returns how many events there were."""
    pipeline = MaskPipeline.from_config(load_bundle(config.bundle.path), config.pipeline)
    loop = FrameLoop.from_config(config, pipeline)
    source = VideoFile(video, loop=False)
    system = SystemClock(config.clock.trusted)
    fps, clock, run_id = source.fps, MediaClock(system.now()), new_run_id()
    synced = system.synced()
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
            for frame in source.frames():
                frames += 1
                size = (frame.image.shape[1], frame.image.shape[0])
                result = loop.step(frame.image, clock.at(frame.offset or 0.0))
                write(result.events, size)
                if annotated is not None:
                    if writer is None:
                        fourcc = cv2.VideoWriter_fourcc(*"mp4v")
                        writer = cv2.VideoWriter(str(annotated), fourcc, fps, size)
                        if not writer.isOpened():
                            raise MaskwatchError(
                                f"--annotate {annotated}: OpenCV cannot write this video; "
                                "give a writable path ending in .mp4"
                            )
                    writer.write(annotate(frame.image, result.faces))
            write(loop.finish(), size)
        finally:
            if writer is not None:
                writer.release()
    log.info("%s: %d frames, %d events", video.name, frames, seq)
    return seq
