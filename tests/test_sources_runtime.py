import cv2
import pytest

from edge.config import SourceConfig
from edge.errors import MaskwatchError, SourceError
from edge.runtime import RUNTIME_MODULES, interpreter_class
from edge.sources import open_source
from scripts.local_broker import Listener


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
    frames = list(open_source(SourceConfig(kind="video", path=scene_video)))
    assert [f.name for f in frames] == [f"door.avi#{i}" for i in range(6)]
    assert all(f.image.shape == (300, 400, 3) for f in frames)


def test_a_video_that_cannot_be_decoded_is_one_line(tmp_path):
    bogus = tmp_path / "bogus.mp4"
    bogus.write_bytes(b"\x00" * 1000)
    with pytest.raises(SourceError, match="bogus.mp4"):
        list(open_source(SourceConfig(kind="video", path=bogus)))
    with pytest.raises(SourceError, match="no such video file"):
        list(open_source(SourceConfig(kind="video", path=tmp_path / "absent.mp4")))


def test_an_image_folder_skips_garbage_and_keeps_going(data_root, tmp_path, caplog):
    (tmp_path / "a.jpg").symlink_to(data_root / "scenes-voc" / "images" / "maksssksksss0.jpg")
    (tmp_path / "b.jpg").write_bytes(b"garbage")
    (tmp_path / "c.jpg").symlink_to(data_root / "scenes-voc" / "images" / "maksssksksss1.jpg")
    frames = list(open_source(SourceConfig(kind="images", path=tmp_path)))
    assert [f.name for f in frames] == ["a.jpg", "c.jpg"]
    assert "b.jpg: not a readable image" in caplog.text


def test_an_empty_folder_is_refused(tmp_path):
    with pytest.raises(SourceError, match="no .jpg/.png images"):
        list(open_source(SourceConfig(kind="images", path=tmp_path)))


def test_the_daemon_runs_a_video_source(scene_video, broker):
    from tests.test_daemon_mqtt import TOPIC, start_daemon

    listener = Listener(broker.port, f"{TOPIC}/events")
    daemon = start_daemon(broker, scene_video, "--set", "source.kind='video'")
    _, stderr = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, stderr
    assert "processed 6 frames" in stderr
    assert listener.wait_for(lambda lst: len(lst.payloads(f"{TOPIC}/events")) >= 6)
    listener.close()


def test_runtime_auto_finds_an_installed_runtime():
    name, interpreter = interpreter_class("auto")
    assert name in ("ai-edge-litert", "tflite-runtime") and callable(interpreter)


def test_an_unknown_runtime_is_refused():
    with pytest.raises(MaskwatchError, match="unknown TFLite runtime 'tensorflow'"):
        interpreter_class("tensorflow")


def test_a_missing_runtime_says_what_to_install(monkeypatch):
    monkeypatch.setitem(RUNTIME_MODULES, "tflite-runtime", "no_such_runtime.interpreter")
    with pytest.raises(MaskwatchError, match="install ai-edge-litert, or tflite-runtime"):
        interpreter_class("tflite-runtime")
