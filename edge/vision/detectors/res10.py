"""The seeds' res10 SSD (Caffe) through OpenCV DNN, for deployments moving over.

OpenCV 5 removed the Caffe importer: this kind needs OpenCV 4.x. It finds far fewer
masked faces than YuNet (see docs/detector.md); it is here so an existing deployment
can move over and compare, not as a default.
"""

from pathlib import Path

import cv2
import numpy as np

from maskwatch.core.bundle import DetectorInfo
from maskwatch.core.errors import BundleError
from maskwatch.vision.detectors.base import Detection

INPUT = (300, 300)
MEAN_BGR = (104.0, 177.0, 123.0)


class Res10Detector:
    def __init__(self, model: Path, config: Path, info: DetectorInfo) -> None:
        if not hasattr(cv2.dnn, "readNetFromCaffe"):
            raise BundleError(
                f"OpenCV {cv2.__version__} cannot read Caffe models; the res10 detector "
                "needs opencv-python-headless 4.x"
            )
        try:
            self._net = cv2.dnn.readNetFromCaffe(str(config), str(model))
        except cv2.error as error:
            raise BundleError(
                f"{model}: OpenCV cannot load it as res10 ({error.msg.strip()})"
            ) from None
        self.info = info

    def detect(self, frame_bgr: np.ndarray) -> list[Detection]:
        """The whole frame, resized to 300x300, as the seeds ran it."""
        height, width = frame_bgr.shape[:2]
        blob = cv2.dnn.blobFromImage(cv2.resize(frame_bgr, INPUT), 1.0, INPUT, MEAN_BGR)
        self._net.setInput(blob)
        found = self._net.forward()[0, 0]
        detections = []
        for _, _, score, *corners in found[found[:, 2] >= self.info.score_threshold]:
            x1, y1, x2, y2 = (np.clip(corners, 0.0, 1.0) * [width, height, width, height]).round()
            if x2 > x1 and y2 > y1:
                detections.append(Detection((int(x1), int(y1), int(x2), int(y2)), float(score)))
        return detections
