"""The original and the fine-tuned YuNet, timed on the same frames in one run, one thread.

``python -m scripts.detector_speed``: both files through ``cv2.FaceDetectorYN`` (as the
daemon runs them) on the benchmark's 640x480 doorway frames, at max side 320 and 640,
alternating frame by frame so load on the machine hits both alike. Prints a Markdown table
of the median and p95 milliseconds per frame.
"""

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2
import numpy as np

from maskwatch.vision.detectors import MASKS_YUNET, ORIGINAL_YUNET
from maskwatch.vision.detectors.yunet import YuNetDetector
from workbench.bench_frames import doorway_frames, test_scenes

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--models-dir", type=Path, default=Path("../shared/models"))
    parser.add_argument("--limit", type=int, default=40, help="test scenes to frame")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    scenes = test_scenes(args.data_root, args.limit)
    frames = [
        cv2.imdecode(np.frombuffer(f.jpeg, np.uint8), cv2.IMREAD_COLOR)
        for f in doorway_frames(scenes)
    ]
    files = {
        "original": (args.models_dir / ORIGINAL_YUNET.file, ORIGINAL_YUNET),
        "fine-tuned": (ROOT / "models" / MASKS_YUNET.file, MASKS_YUNET),
    }
    print(f"{len(frames)} doorway frames 640x480, one thread\n")
    print("| max side | detector | median ms | p95 ms |\n|---|---|---|---|")
    for max_side in (320, 640):
        detectors = {
            name: YuNetDetector(path, replace(info, max_side=max_side))
            for name, (path, info) in files.items()
        }
        times = {name: [] for name in detectors}
        for frame in frames * 2:
            for name, detector in detectors.items():
                started = time.perf_counter()
                detector.detect(frame)
                times[name].append((time.perf_counter() - started) * 1000)
        for name, values in times.items():
            median, p95 = np.percentile(values, [50, 95])
            print(f"| {max_side} | {name} | {median:.2f} | {p95:.2f} |")


if __name__ == "__main__":
    main()
