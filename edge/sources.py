"""Frame sources: a folder of images or a video file, yielding BGR frames.

Later sources (picamera2, USB/RTSP capture) implement the same iterator.
"""

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.config import SourceConfig
from edge.errors import ImageError, SourceError
from edge.images import read_image

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # BGR
    name: str  # file name, or the frame number of a stream
    timestamp: float  # wall-clock seconds when the frame was read


def image_folder_frames(folder: Path, loop: bool, interval: float) -> Iterator[Frame]:
    """Every image in ``folder`` in name order; unreadable files are logged and skipped."""
    if not folder.is_dir():
        raise SourceError(f"source.path {folder}: not a folder of images")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SourceError(f"source.path {folder}: no .jpg/.png images in it")
    while True:
        for path in files:
            try:
                image = read_image(path)
            except ImageError as error:
                log.warning("skipping frame: %s", error)
                continue
            yield Frame(image, path.name, time.time())
            if interval:
                time.sleep(interval)
        if not loop:
            return


def video_file_frames(path: Path, loop: bool) -> Iterator[Frame]:
    """Frames of a video file decoded by OpenCV."""
    if not path.is_file():
        raise SourceError(f"source.path {path}: no such video file")
    while True:
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise SourceError(f"source.path {path}: OpenCV cannot open this video")
        index = 0
        try:
            while True:
                ok, image = capture.read()
                if not ok:
                    break
                yield Frame(image, f"{path.name}#{index}", time.time())
                index += 1
        finally:
            capture.release()
        if index == 0:
            raise SourceError(f"source.path {path}: the video has no decodable frames")
        if not loop:
            return


def open_source(config: SourceConfig) -> Iterator[Frame]:
    if config.kind == "images":
        return image_folder_frames(config.path, config.loop, config.interval)
    return video_file_frames(config.path, config.loop)
