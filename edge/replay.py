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

from edge.bundle import load_bundle
from edge.config import Config
from edge.errors import SourceError
from edge.events import event_payload
from edge.images import annotate
from edge.pipeline import MaskPipeline
from edge.tracker import Tracker

log = logging.getLogger(__name__)


def replay(config: Config, video: Path, events_path: Path, annotated: Path | None) -> int:
    """Writes the events (and the annotated video); returns how many events there were."""
    pipeline = MaskPipeline.from_config(load_bundle(config.bundle.path), config.pipeline)
    tracker = Tracker(config.tracking, config.pipeline.min_label_score)
    capture = cv2.VideoCapture(str(video))
    if not video.is_file() or not capture.isOpened():
        raise SourceError(f"{video}: not a video file OpenCV can open")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    start = time.time()
    writer = None
    seq = index = 0
    size = (0, 0)
    try:
        with events_path.open("w") as out:

            def write(events: list) -> None:
                nonlocal seq
                for event in events:
                    seq += 1
                    payload = event_payload(event.kind, event.track, size, config.device_id)
                    out.write(json.dumps({**payload, "seq": seq}) + "\n")

            while True:
                ok, image = capture.read()
                if not ok:
                    break
                size = (image.shape[1], image.shape[0])
                faces = pipeline.process(image)
                write(tracker.update(faces, start + index / fps))
                if annotated is not None:
                    if writer is None:
                        fourcc = cv2.VideoWriter_fourcc(*"mp4v")
                        writer = cv2.VideoWriter(str(annotated), fourcc, fps, size)
                    writer.write(annotate(image, faces))
                index += 1
            write(tracker.expire())
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    if index == 0:
        raise SourceError(f"{video}: the video has no decodable frames")
    log.info("%s: %d frames, %d events", video.name, index, seq)
    return seq
