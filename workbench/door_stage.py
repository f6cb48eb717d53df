"""The door renderer's props from the project's own data: an empty background and people.

Shared by the benchmark's door day (:mod:`workbench.door_bench`), the demo's door clip
and the tracking tests' hard sequences: each gets the same background (a held-out test
scene with its faces painted out) and people cut from held-out single-face scenes.
"""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from maskwatch.core.bundle import Bundle
from maskwatch.core.labels import MASK, MASK_INCORRECT, NO_MASK
from maskwatch.vision.detectors import create_detector
from workbench import door_scenes
from workbench.bench_frames import test_scenes


@dataclass(frozen=True)
class DoorStage:
    background: np.ndarray
    scenes: list[tuple[Path, list]]  # held-out test scenes and their annotated faces
    detect: Callable[[np.ndarray], list]  # the bundle's detector at native resolution

    def sprites(self, count: int) -> list[door_scenes.Sprite]:
        return door_scenes.person_sprites(self.scenes, self.detect, count)

    def one_of_each(self, labels: tuple[str, ...] = (MASK, NO_MASK, MASK_INCORRECT)) -> list:
        """One person per label, in that order: the first held-out face of the label at
        least 50 px wide whose cut-out the detector finds exactly once."""
        picked = []
        for label in labels:
            for path, faces in self.scenes:
                face = next((f for f in faces if f.label == label and f.box[2] - f.box[0] >= 50),
                            None)  # fmt: skip
                if face is None:
                    continue
                sprite = door_scenes.cut_sprite(cv2.imread(str(path)), face.box, label)
                if len(self.detect(sprite.image)) == 1:
                    picked.append(sprite)
                    break
            else:
                raise SystemExit(f"door stage: no usable held-out face labelled {label}")
        return picked


def build_stage(data_root: Path, bundle: Bundle) -> DoorStage:
    """The background no detector size can find a face in (as the full frame and regions
    would see it, before and after the exposure step), and the held-out scenes."""
    scenes = test_scenes(data_root, None)
    detectors = [create_detector(dataclasses.replace(bundle.manifest.detector, max_side=side),
                                 bundle.root) for side in (4096, 640, 320)]  # fmt: skip

    def any_size(image: np.ndarray) -> list:
        stepped = cv2.convertScaleAbs(image, alpha=door_scenes.EXPOSURE_STEP)
        return [d for det in detectors for view in (image, stepped) for d in det.detect(view)]

    by_width = sorted(scenes, key=lambda s: (-cv2.imread(str(s[0])).shape[1], s[0].name))
    background = door_scenes.empty_background(by_width, any_size)
    return DoorStage(background, scenes, detectors[0].detect)


def write_clip(sequence: door_scenes.DoorSequence, path: Path) -> Path:
    """Every frame of ``sequence`` as a Motion-JPEG AVI at the renderer's frame rate (the
    codec every OpenCV build writes and reads)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), door_scenes.FPS,
                             door_scenes.SIZE)  # fmt: skip
    if not writer.isOpened():
        raise SystemExit(f"cannot write a video to {path}")
    try:
        for frame in range(sequence.frames):
            writer.write(sequence.render(frame))
    finally:
        writer.release()
    return path
