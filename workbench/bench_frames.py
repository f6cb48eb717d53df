"""The benchmark's frames: the held-out test scenes at their native size, and a 640x480
"doorway" sequence made from them (each scene scaled so its faces have a door camera's
sizes, shown for a few frames as a still camera would), as JPEG bytes.
"""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DOOR_SIZE = (640, 480)
DOOR_FACE_WIDTH = 110  # px: a face 1.5-2 m from a 640x480 door camera
STILL_FRAMES = 5  # frames per scene in the doorway sequence
SOURCES = ("yolo:scenes-yolo", "voc:scenes-voc")


@dataclass(frozen=True)
class BenchFrame:
    name: str
    jpeg: bytes
    boxes: list[tuple[tuple[int, int, int, int], str]]  # annotated faces: box, label


def test_scenes(data_root: Path, limit: int | None) -> list[tuple[Path, list]]:
    from maskwatch.train.data import read_sources
    from maskwatch.train.evaluate import scene_samples
    from maskwatch.train.split import apply_split

    samples = read_sources(data_root, SOURCES)
    by_image = scene_samples(apply_split(samples, ROOT / "models" / "split.json")["test"])
    return sorted(by_image.items())[:limit]


def native_frames(scenes: list[tuple[Path, list]]) -> list[BenchFrame]:
    return [
        BenchFrame(path.name, path.read_bytes(), [(s.box, s.label) for s in faces])
        for path, faces in scenes
    ]


def doorway_frame(image: np.ndarray, faces: list) -> tuple[np.ndarray, list]:
    """The scene scaled so its median face is DOOR_FACE_WIDTH wide, framed at 640x480
    around its faces (grey where the photo ends); the boxes moved the same way."""
    widths = [s.box[2] - s.box[0] for s in faces]
    scale = float(np.clip(DOOR_FACE_WIDTH / max(np.median(widths), 1), 0.5, 4.0))
    scaled = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA
                        if scale < 1 else cv2.INTER_LINEAR)  # fmt: skip
    cx = np.mean([(s.box[0] + s.box[2]) / 2 for s in faces]) * scale
    cy = np.mean([(s.box[1] + s.box[3]) / 2 for s in faces]) * scale
    width, height = DOOR_SIZE
    left = int(np.clip(cx - width / 2, 0, max(scaled.shape[1] - width, 0)))
    top = int(np.clip(cy - height / 2, 0, max(scaled.shape[0] - height, 0)))
    canvas = np.full((height, width, 3), 127, np.uint8)
    window = scaled[top : top + height, left : left + width]
    canvas[: window.shape[0], : window.shape[1]] = window
    boxes = []
    for s in faces:
        x1, y1, x2, y2 = (round(v * scale) for v in s.box)
        box = (x1 - left, y1 - top, x2 - left, y2 - top)
        inside = max(0, min(box[2], window.shape[1]) - max(box[0], 0)) * max(
            0, min(box[3], window.shape[0]) - max(box[1], 0)
        )
        if inside >= 0.5 * (box[2] - box[0]) * (box[3] - box[1]):
            boxes.append((tuple(max(0, v) for v in box), s.label))
    return canvas, boxes


def doorway_frames(scenes: list[tuple[Path, list]]) -> list[BenchFrame]:
    frames = []
    for path, faces in scenes:
        canvas, boxes = doorway_frame(cv2.imread(str(path)), faces)
        jpeg = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
        frames += [BenchFrame(f"{path.stem}_{k}.jpg", jpeg, boxes) for k in range(STILL_FRAMES)]
    return frames


def write_frames(frames: list[BenchFrame], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(frames):
        (folder / f"{index:05d}_{frame.name}").write_bytes(frame.jpeg)
    return folder


def test_split_images(data_root: Path, count: int) -> list[Path]:
    """The first ``count`` test-split scenes of scenes-voc, as image files."""
    from maskwatch.train.split import load_split_scenes

    scenes = sorted(load_split_scenes(ROOT / "models" / "split.json")["test"])
    images = data_root / "scenes-voc" / "images"
    picked = [images / f"{s.split('/', 1)[1]}.jpg" for s in scenes if s.startswith("scenes-voc/")]
    picked = [p for p in picked if p.is_file()][:count]
    if not picked:
        raise SystemExit(f"no test-split scenes under {images}; pass --data-root DIR")
    return picked
