"""Face detection on regions of a frame, with a detector kept warm per input size.

YuNet's input size is set per call, and changing it rebuilds the network's buffers and
anchors (about 1 ms on x86: several frames' worth of motion detection), while regions
alternate between sizes from one call to the next. So each crop is padded at its right
and bottom to YuNet's stride, as YuNet pads it itself, which makes sizes repeat, and
the detectors of the last few sizes are kept.
"""

import dataclasses
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

from edge.bundle import DetectorInfo
from edge.detectors import Detection, FaceDetector, create_detector
from edge.regions import Region

STRIDE = 32
KEPT = 6  # detectors of different input sizes kept (each holds its buffers: ~1-2 MB)
UNSCALED = 1 << 16  # a max_side no crop reaches: crops come to the detector already sized


class RegionDetector:
    def __init__(self, info: DetectorInfo, folder: Path) -> None:
        self._info = dataclasses.replace(info, max_side=UNSCALED, min_side=0)
        self._folder = folder
        self._kept: OrderedDict[tuple[int, int], FaceDetector] = OrderedDict()

    def _for_size(self, size: tuple[int, int]) -> FaceDetector:
        if size in self._kept:
            self._kept.move_to_end(size)
        else:
            if len(self._kept) == KEPT:
                self._kept.popitem(last=False)
            self._kept[size] = create_detector(self._info, self._folder)
        return self._kept[size]

    def detect(self, frame_bgr: np.ndarray, regions: list[Region]) -> list[Detection]:
        """The faces in ``regions`` of the frame, in the frame's pixels."""
        detections = []
        for region in regions:
            x1, y1, x2, y2 = region.box
            crop = frame_bgr[y1:y2, x1:x2]
            if region.scale < 1.0:
                size = (max(1, round((x2 - x1) * region.scale)),
                        max(1, round((y2 - y1) * region.scale)))  # fmt: skip
                crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
            height, width = crop.shape[:2]
            padded = (-(-width // STRIDE) * STRIDE, -(-height // STRIDE) * STRIDE)
            if padded != (width, height):
                crop = cv2.copyMakeBorder(crop, 0, padded[1] - height, 0, padded[0] - width,
                                          cv2.BORDER_CONSTANT, value=0)  # fmt: skip
            for d in self._for_size(padded).detect(crop):
                bx1, by1, bx2, by2 = region.to_frame(d.box)
                box = (max(bx1, x1), max(by1, y1), min(bx2, x2), min(by2, y2))
                if box[2] > box[0] and box[3] > box[1]:
                    detections.append(Detection(box, d.score))
        return detections
