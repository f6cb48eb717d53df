"""Frame sources, each yielding BGR frames.

Recorded sources (a folder or glob of images, a video file) give every frame in order.
Live sources (an OpenCV capture: USB camera, RTSP/HTTP stream; the Pi camera through
picamera2) are read by a thread of their own that keeps only the newest frame: the
daemon never works through a backlog, and every frame it had no time for is counted
as dropped. A live camera that fails is closed and reopened with backoff while the
daemon keeps running and says so in its log.
"""

import glob
import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Protocol

import cv2
import numpy as np

from maskwatch.core.config import SourceConfig
from maskwatch.core.credentials import redact_url
from maskwatch.core.errors import ConfigError, ImageError, SourceError
from maskwatch.core.images import read_image_timed
from maskwatch.service.numpy_abi import describe, is_numpy_abi_error

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
IDLE_TICK = 0.5  # seconds a live source waits for a frame before yielding None
DEFAULT_VIDEO_FPS = 25.0  # for a video file that declares no frame rate


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # BGR
    name: str  # file name, or the frame number of a stream
    read_ms: float = 0.0  # getting the frame's bytes from the file or device (no idle waits)
    decode_ms: float = 0.0  # decoding them into pixels
    offset: float | None = None  # seconds into a recording (a video file); None: live


def grab_and_decode(capture: cv2.VideoCapture) -> tuple[np.ndarray, float, float] | None:
    """The next frame of an OpenCV capture with its read and decode times, or None."""
    started = time.perf_counter()
    if not capture.grab():
        return None
    grabbed = time.perf_counter()
    ok, image = capture.retrieve()
    if not ok:
        return None
    return image, (grabbed - started) * 1000.0, (time.perf_counter() - grabbed) * 1000.0


class FrameSource(Protocol):
    """``frames()`` yields frames, or None while a live source has nothing new."""

    dropped: int  # frames discarded because a newer one arrived first
    status: str  # one line for logs and the systemd status

    def frames(self) -> Iterator[Frame | None]: ...

    def close(self) -> None: ...


def image_files(path: Path) -> list[Path]:
    """The images of a folder, or those matching a glob, in name order."""
    if any(ch in str(path) for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(str(path)))
    elif path.is_dir():
        files = sorted(path.iterdir())
    else:
        raise SourceError(f"source.path {path}: not a folder of images or a glob such as dir/*.jpg")
    files = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise SourceError(f"source.path {path}: no .jpg/.png images in it")
    return files


class ImageFolder:
    """Every image in order; unreadable files are logged and skipped."""

    def __init__(self, path: Path, loop: bool, interval: float) -> None:
        self.files = image_files(path)
        self.loop, self.interval = loop, interval
        self.dropped = 0
        self.status = f"images from {path}"

    def frames(self) -> Iterator[Frame | None]:
        while True:
            for path in self.files:
                try:
                    image, read_ms, decode_ms = read_image_timed(path)
                except ImageError as error:
                    log.warning("skipping frame: %s", error)
                    continue
                yield Frame(image, path.name, read_ms, decode_ms)
                if self.interval:
                    time.sleep(self.interval)
            if not self.loop:
                return

    def close(self) -> None:
        pass


class VideoFile:
    """Every frame of a video file decoded by OpenCV, as fast as they are consumed."""

    def __init__(self, path: Path, loop: bool) -> None:
        if not path.is_file():
            raise SourceError(f"source.path {path}: no such video file")
        self.path, self.loop = path, loop
        self.dropped = 0
        self.status = f"video {path.name}"

    @property
    def fps(self) -> float:
        """The frame rate the file declares (25 when it declares none)."""
        capture = cv2.VideoCapture(str(self.path))
        try:
            return capture.get(cv2.CAP_PROP_FPS) or DEFAULT_VIDEO_FPS
        finally:
            capture.release()

    def frames(self) -> Iterator[Frame | None]:
        while True:
            capture = cv2.VideoCapture(str(self.path))
            if not capture.isOpened():
                raise SourceError(f"source.path {self.path}: OpenCV cannot open this video")
            index, fps = 0, capture.get(cv2.CAP_PROP_FPS) or DEFAULT_VIDEO_FPS
            try:
                while (grabbed := grab_and_decode(capture)) is not None:
                    image, read_ms, decode_ms = grabbed
                    yield Frame(image, f"{self.path.name}#{index}", read_ms, decode_ms,
                                offset=index / fps)  # fmt: skip
                    index += 1
            finally:
                capture.release()
            if index == 0:
                raise SourceError(f"source.path {self.path}: the video has no decodable frames")
            if not self.loop:
                return

    def close(self) -> None:
        pass


class Camera(Protocol):
    """An opened live camera: ``read`` gives the next BGR frame with its read and decode
    milliseconds, or None when it failed."""

    def read(self) -> tuple[np.ndarray, float, float] | None: ...

    def close(self) -> None: ...


class OpenCVCamera:
    """``cv2.VideoCapture`` on a camera index or a stream URL (or a file, for tests)."""

    def __init__(self, device: str, width: int, height: int) -> None:
        target = int(device) if device.isdigit() else device
        self._capture = cv2.VideoCapture(target)
        if not self._capture.isOpened():
            self._capture.release()
            raise SourceError(
                f"source.device {redact_url(device)}: OpenCV cannot open this camera or stream"
            )
        self._capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a stale one
        if width and height:
            self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)

    def read(self) -> tuple[np.ndarray, float, float] | None:
        return grab_and_decode(self._capture)

    def close(self) -> None:
        self._capture.release()


def require_picamera2() -> ModuleType:
    """picamera2, imported only when the config asks for it (it exists only on a Pi)."""
    try:
        return importlib.import_module("picamera2")
    except (ImportError, ValueError) as error:
        if is_numpy_abi_error(error):
            raise ConfigError(f"source.kind picamera2: {describe('picamera2', error)}") from None
        if isinstance(error, ValueError):
            raise
        raise ConfigError(
            "source.kind picamera2: the picamera2 module is not importable; install "
            "python3-picamera2 with apt and make the venv with --system-site-packages"
        ) from None


class PiCamera:
    """The Raspberry Pi camera through picamera2 (Raspberry Pi OS's python3-picamera2).

    The main stream is configured as ``RGB888``, which libcamera lays out as B, G, R
    bytes per pixel: the BGR order OpenCV and the pipeline expect, with no conversion.
    """

    def __init__(self, width: int, height: int) -> None:
        try:
            self._camera = require_picamera2().Picamera2()
            config = self._camera.create_video_configuration(
                main={"size": (width, height), "format": "RGB888"}, buffer_count=2
            )
            self._camera.configure(config)
            self._camera.start()
        except (RuntimeError, IndexError, OSError) as error:
            raise SourceError(f"picamera2: cannot start the camera ({error})") from None

    def read(self) -> tuple[np.ndarray, float, float] | None:
        started = time.perf_counter()
        image = self._camera.capture_array("main")  # errors are the LiveSource's to handle
        return image, (time.perf_counter() - started) * 1000.0, 0.0  # the ISP decoded it

    def close(self) -> None:
        try:
            self._camera.stop()
        finally:
            self._camera.close()


class LiveSource:
    """A camera read by its own thread into a one-frame slot, reopened with backoff on failure."""

    def __init__(self, name: str, open_camera: Callable[[], Camera], reopen_max: float) -> None:
        self.name = name
        self.dropped = 0
        self.reopens = 0
        self.status = f"opening {name}"
        self._open_camera = open_camera
        self._reopen_max = reopen_max
        self._slot: Frame | None = None
        self._count = 0
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._read_forever, name="camera", daemon=True)
        self._thread.start()

    def _read_forever(self) -> None:
        delay = 1.0
        while not self._stopping.is_set():
            try:
                camera = self._open_camera()
            except Exception as error:  # noqa: BLE001  (any failure to open is retried)
                self.status = f"{self.name} unavailable, retrying in {delay:.0f} s"
                log.warning("%s; retrying in %.0f s", error, delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, self._reopen_max)
                continue
            self.status = f"reading {self.name}"
            log.info("%s opened", self.name)
            delay = 1.0
            try:
                self._pump(camera)
            finally:
                camera.close()
            if not self._stopping.is_set():
                self.reopens += 1
                self.status = f"{self.name} failed, reopening"
                log.warning("%s stopped delivering frames; reopening it", self.name)

    def _pump(self, camera: Camera) -> None:
        while not self._stopping.is_set():
            try:
                read = camera.read()
            except Exception as error:  # noqa: BLE001  (a driver error means: reopen)
                log.warning("%s: read failed (%s)", self.name, error)
                return
            if read is None:
                return
            with self._changed:
                if self._slot is not None:
                    self.dropped += 1
                self._slot = Frame(read[0], f"{self.name}#{self._count}", read[1], read[2])
                self._count += 1
                self._changed.notify()

    def frames(self) -> Iterator[Frame | None]:
        while not self._stopping.is_set():
            with self._changed:
                self._changed.wait_for(lambda: self._slot is not None, IDLE_TICK)
                frame, self._slot = self._slot, None
            yield frame

    @property
    def waiting_to_reopen(self) -> bool:
        """True while the camera is being reopened: idle, but not hung."""
        return not self.status.startswith("reading")

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=1.0)  # a hung driver must not hold up a clean stop


def open_source(config: SourceConfig) -> FrameSource:
    if config.kind == "images":
        return ImageFolder(config.path, config.loop, config.interval)
    if config.kind == "video":
        return VideoFile(config.path, config.loop)
    if config.kind == "capture":
        return LiveSource(
            f"camera {redact_url(config.device)}",
            lambda: OpenCVCamera(config.device, config.width, config.height),
            config.reopen_max,
        )
    require_picamera2()
    return LiveSource("picamera2", lambda: PiCamera(config.width, config.height), config.reopen_max)
