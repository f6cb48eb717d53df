"""Shared fixtures. Missing data, bundle or broker fail loudly: a skipped check is no check."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from maskwatch.train.datasets import read_voc_scenes
from maskwatch.train.split import load_split_scenes
from workbench.local_broker import LocalBroker

ROOT = Path(__file__).resolve().parent.parent
DATA_ROOT = Path(os.environ.get("MASKWATCH_DATA", ROOT.parent / "shared" / "datasets"))
BUNDLE = ROOT / "bundle"
SPLIT = ROOT / "models" / "split.json"
CONFIG = ROOT / "config" / "maskwatch.toml"
TOPIC = "maskwatch/front-door"  # topic prefix and device id of config/maskwatch.toml


@pytest.fixture(scope="session")
def data_root() -> Path:
    if not (DATA_ROOT / "scenes-voc" / "annotations").is_dir():
        pytest.fail(f"datasets not found at {DATA_ROOT}; set MASKWATCH_DATA to ../shared/datasets")
    return DATA_ROOT


@pytest.fixture(scope="session")
def bundle_dir() -> Path:
    if not (BUNDLE / "manifest.json").is_file():
        pytest.fail(f"no default bundle at {BUNDLE}; run 'make setup' (or 'make bundle') first")
    return BUNDLE


@pytest.fixture
def broker():
    with LocalBroker() as running:
        yield running


def maskwatch(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """Run the ``maskwatch`` command line in a child process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "maskwatch", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


def error_lines(stderr: str) -> list[str]:
    """The lines maskwatch itself wrote as errors (runtimes add their own INFO lines)."""
    return [line for line in stderr.splitlines() if line.startswith("maskwatch: error:")]


def start_daemon(
    broker: LocalBroker, frames: Path, *overrides: str, queue: Path | None = None, **popen
) -> subprocess.Popen:
    """``maskwatch run`` with the default config, pointed at ``broker`` and ``frames``, with
    an event queue of its own (a fresh one unless ``queue`` is given)."""
    queue = queue or Path(tempfile.mkdtemp(prefix="maskwatch-queue-")) / "events.sqlite3"
    return subprocess.Popen(
        [sys.executable, "-m", "maskwatch", "run", "--config", str(CONFIG),
         "--set", f"mqtt.port={broker.port}", "--set", f"source.path={frames}",
         "--set", f"queue.path={queue}", *overrides],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen,
    )  # fmt: skip


def terminate(daemon: subprocess.Popen, timeout: float = 10) -> str:
    """SIGTERM, as systemd stops the service; the daemon must exit cleanly. Returns stderr."""
    daemon.send_signal(signal.SIGTERM)
    _, stderr = daemon.communicate(timeout=timeout)
    assert daemon.returncode == 0, stderr
    return stderr


FRAMES_PER_SCENE = 4  # a still camera's view of each photo: enough frames to confirm


def link_still_sequences(frames, faces_by_label, copies):
    """Each photo as ``copies`` consecutive frames, the way a fixed camera sees a scene.

    The photos take turns at the left and the right of a frame twice their width, so one
    photo's person never stands where the last photo's stood: a camera sees one leave
    before the next arrives, and the tracker must not link two people. Returns each photo's
    horizontal offset in the frame."""
    images = sorted({f.image for faces in faces_by_label.values() for f in faces})
    offsets = {}
    for index, image in enumerate(images):
        photo = cv2.imread(str(image))
        height, width = photo.shape[:2]
        canvas = np.zeros((height, 2 * width, 3), np.uint8)
        offsets[image] = width * (index % 2)
        canvas[:, offsets[image] : offsets[image] + width] = photo
        first = frames / f"{image.stem}_0.jpg"
        cv2.imwrite(str(first), canvas, [cv2.IMWRITE_JPEG_QUALITY, 95])
        for k in range(1, copies):
            (frames / f"{image.stem}_{k}.jpg").symlink_to(first)
    return offsets


@pytest.fixture(scope="module")
def clear_faces(data_root):
    """The three largest annotated faces of each label among the held-out test scenes."""
    test_scenes = load_split_scenes(SPLIT)["test"]
    faces = [f for f in read_voc_scenes(data_root / "scenes-voc") if f.scene in test_scenes]
    chosen = {}
    for label in ("mask", "no_mask"):
        of_label = [f for f in faces if f.label == label and f.box[2] - f.box[0] >= 80]
        chosen[label] = sorted(of_label, key=lambda f: f.box[0] - f.box[2])[:3]
        assert len(chosen[label]) == 3, f"too few clear {label} faces in the test split"
    return chosen


@pytest.fixture
def still_frames(clear_faces, tmp_path):
    """The clear faces as still sequences in a folder of frames."""
    frames = tmp_path / "frames"
    frames.mkdir()
    link_still_sequences(frames, clear_faces, FRAMES_PER_SCENE)
    return frames


def wait_until(predicate, timeout=10.0):
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
