"""Frame sources on real files and real OpenCV capture; picamera2 through a small fake."""

import functools
import logging
import shutil
import sys
import threading
import time
import types
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest

from maskwatch.core.config import SourceConfig
from maskwatch.core.errors import ConfigError, SourceError
from maskwatch.service.sources import LiveSource, open_source
from tests.conftest import TOPIC, start_daemon, wait_until
from workbench.local_broker import Listener


def frames_of(source):
    return [f for f in source.frames() if f is not None]


@pytest.fixture
def scene_video(data_root, tmp_path):
    """A 6-frame MJPG video made of two real scenes, each shown three times."""
    images = [
        cv2.resize(cv2.imread(str(data_root / "scenes-voc" / "images" / name)), (400, 300))
        for name in ("maksssksksss10.jpg", "maksssksksss0.jpg")
    ]
    path = tmp_path / "door.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (400, 300))
    for image in images:
        for _ in range(3):
            writer.write(image)
    writer.release()
    return path


def test_a_video_file_yields_its_frames(scene_video):
    frames = frames_of(open_source(SourceConfig(kind="video", path=scene_video)))
    assert [f.name for f in frames] == [f"door.avi#{i}" for i in range(6)]
    assert all(f.image.shape == (300, 400, 3) for f in frames)


def test_a_video_that_cannot_be_decoded_is_one_line(tmp_path):
    bogus = tmp_path / "bogus.mp4"
    bogus.write_bytes(b"\x00" * 1000)
    with pytest.raises(SourceError, match="bogus.mp4"):
        frames_of(open_source(SourceConfig(kind="video", path=bogus)))
    with pytest.raises(SourceError, match="no such video file"):
        open_source(SourceConfig(kind="video", path=tmp_path / "absent.mp4"))


def test_an_image_folder_skips_garbage_and_keeps_going(data_root, tmp_path, caplog):
    (tmp_path / "a.jpg").symlink_to(data_root / "scenes-voc" / "images" / "maksssksksss0.jpg")
    (tmp_path / "b.jpg").write_bytes(b"garbage")
    (tmp_path / "c.jpg").symlink_to(data_root / "scenes-voc" / "images" / "maksssksksss1.jpg")
    frames = frames_of(open_source(SourceConfig(kind="images", path=tmp_path)))
    assert [f.name for f in frames] == ["a.jpg", "c.jpg"]
    assert "b.jpg: not a readable image (empty, truncated or not JPEG/PNG)" in caplog.text


def test_a_glob_picks_matching_images_in_name_order(data_root):
    images = data_root / "scenes-voc" / "images"
    source = open_source(SourceConfig(kind="images", path=images / "maksssksksss1[0-2].jpg"))
    assert [f.name for f in frames_of(source)] == [f"maksssksksss1{i}.jpg" for i in range(3)]


def test_an_empty_folder_is_refused(tmp_path):
    with pytest.raises(SourceError, match="no .jpg/.png images"):
        open_source(SourceConfig(kind="images", path=tmp_path))


def test_the_daemon_runs_a_video_source(scene_video, broker):
    listener = Listener(broker.port, f"{TOPIC}/events")
    daemon = start_daemon(broker, scene_video, "--set", "source.kind='video'")
    _, stderr = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, stderr
    assert "processed 6 frames" in stderr
    assert listener.wait_for(lambda lst: len(lst.payloads(f"{TOPIC}/events")) >= 6)
    listener.close()


def take(source, count, pause=0.0, timeout=10.0):
    """``count`` frames from a live source, pausing after each as a slow pipeline would."""
    got, deadline = [], time.monotonic() + timeout
    for frame in source.frames():
        if frame is not None:
            got.append(frame)
            time.sleep(pause)
        if len(got) == count or time.monotonic() > deadline:
            return got
    return got


def index_of(frame):
    return int(frame.name.rsplit("#", 1)[1])


def test_a_live_capture_gives_the_newest_frame_and_counts_the_dropped(scene_video):
    """OpenCV capture on a stream (a file stands in for the camera device here)."""
    source = open_source(SourceConfig(kind="capture", device=str(scene_video)))
    try:
        frames = take(source, 4, pause=0.05)
        assert len(frames) == 4
        # A slow consumer skips frames rather than working through a backlog.
        assert all(index_of(b) > index_of(a) for a, b in zip(frames, frames[1:], strict=False))
        # Every frame read is taken, dropped, or still waiting in the one-frame slot.
        read = index_of(frames[-1]) + 1
        assert read > len(frames) + 1 and source.dropped >= read - len(frames) - 1
    finally:
        source.close()


@pytest.fixture
def http_stream(scene_video):
    """The video served over HTTP from loopback, as an IP camera's stream URL."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(scene_video.parent))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{scene_video.name}"
    server.shutdown()
    server.server_close()


def test_a_stream_url_is_read_through_opencv(http_stream):
    source = open_source(SourceConfig(kind="capture", device=http_stream))
    try:
        frames = take(source, 3)
        assert len(frames) == 3 and frames[0].image.shape == (300, 400, 3)
    finally:
        source.close()


def test_a_camera_that_fails_is_reopened_with_backoff(scene_video, tmp_path, caplog):
    camera = tmp_path / "camera.avi"
    shutil.copy(scene_video, camera)
    caplog.set_level(logging.INFO, logger="maskwatch.service.sources")
    source = open_source(SourceConfig(kind="capture", device=str(camera), reopen_max=1.0))
    try:
        assert take(source, 1)
        camera.unlink()  # unplugged: the stream ends and the camera cannot be opened again
        assert wait_until(lambda: "unavailable" in source.status)
        assert "OpenCV cannot open this camera or stream; retrying in" in caplog.text
        frames_seen_while(source, 0.1)  # the last frame read before the failure, if any
        assert frames_seen_while(source, 1.0) == 0
        shutil.copy(scene_video, camera)  # plugged back in
        assert take(source, 2, timeout=10)
        assert source.reopens >= 1 and source.status.startswith("reading")
    finally:
        source.close()


def frames_seen_while(source, seconds):
    deadline, seen = time.monotonic() + seconds, 0
    for frame in source.frames():
        seen += frame is not None
        if time.monotonic() > deadline:
            return seen
    return seen


SCENE_RGB = (200, 40, 10)  # what the fake camera looks at: a red wall


def libcamera_pixels(rgb, pixel_format, width, height):
    """Pixels as libcamera lays them out in memory: its ``RGB888`` is B, G, R bytes per
    pixel and its ``BGR888`` is R, G, B (the names follow DRM's little-endian words)."""
    red, green, blue = rgb
    order = {"RGB888": (blue, green, red), "BGR888": (red, green, blue)}[pixel_format]
    return np.full((height, width, 3), order, np.uint8)


class FakePicamera2:
    """The slice of picamera2's API the adapter uses; ``fail_after`` frames it raises once."""

    instances: list["FakePicamera2"] = []
    fail_after = 3

    def __init__(self):
        self.config = None
        self.started = self.closed = False
        self.captured = 0
        FakePicamera2.instances.append(self)

    def create_video_configuration(self, main, buffer_count):
        return {"main": main, "buffer_count": buffer_count}

    def configure(self, config):
        self.config = config

    def start(self):
        self.started = True

    def capture_array(self, stream):
        assert stream == "main" and self.started
        first_instance = self is FakePicamera2.instances[0]
        if first_instance and self.captured == FakePicamera2.fail_after:
            raise RuntimeError("Camera frontend has timed out!")
        self.captured += 1
        width, height = self.config["main"]["size"]
        time.sleep(0.01)
        return libcamera_pixels(SCENE_RGB, self.config["main"]["format"], width, height)

    def stop(self):
        self.started = False

    def close(self):
        self.closed = True


@pytest.fixture
def fake_picamera2(monkeypatch):
    FakePicamera2.instances = []
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2
    monkeypatch.setitem(sys.modules, "picamera2", module)
    return FakePicamera2


def test_picamera2_streams_bgr_at_the_configured_size_and_is_reopened(fake_picamera2, caplog):
    source = open_source(SourceConfig(kind="picamera2", width=640, height=480))
    try:
        frames = take(source, 6)
        assert len(frames) == 6
        first = fake_picamera2.instances[0]
        assert first.config["main"] == {"size": (640, 480), "format": "RGB888"}
        assert frames[0].image.shape == (480, 640, 3)
        hue = cv2.cvtColor(frames[0].image[:1, :1], cv2.COLOR_BGR2HSV)[0, 0, 0]
        assert hue < 10 or hue > 170, "the red wall must come out red to OpenCV (BGR)"
        # The capture error closed the camera and a new one was opened.
        assert first.closed and len(fake_picamera2.instances) == 2
        assert isinstance(source, LiveSource) and source.reopens == 1
        assert "picamera2: read failed (Camera frontend has timed out!)" in caplog.text
    finally:
        source.close()
    assert fake_picamera2.instances[-1].closed


def test_picamera2_missing_is_a_one_line_config_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import fails as it does off a Pi
    with pytest.raises(ConfigError, match="install python3-picamera2 with apt"):
        open_source(SourceConfig(kind="picamera2", width=640, height=480))
