"""YuNet through ``cv2.FaceDetectorYN`` (OpenCV 4.8+): the default face detector.

Frames whose longest side exceeds ``max_side`` are downscaled before detection, those
below ``min_side`` upscaled (small faces in small frames), and the boxes are scaled
back to the frame's pixels.
"""

from pathlib import Path

import cv2
import numpy as np

from maskwatch.core.bundle import DetectorInfo
from maskwatch.core.errors import BundleError
from maskwatch.vision.detectors.base import Detection

TOP_K = 5000


class YuNetDetector:
    def __init__(self, model: Path, info: DetectorInfo) -> None:
        if not hasattr(cv2, "FaceDetectorYN"):
            raise BundleError(
                f"OpenCV {cv2.__version__} has no FaceDetectorYN; "
                "install opencv-python-headless>=4.8"
            )
        self.info = info
        try:
            self._net = cv2.FaceDetectorYN.create(
                str(model), "", (320, 320), info.score_threshold, info.nms_threshold, TOP_K
            )
        except cv2.error as error:
            raise BundleError(
                f"{model}: OpenCV cannot load it as YuNet ({error.msg.strip()})"
            ) from None
        self._input_size = (320, 320)

    def detect(self, frame_bgr: np.ndarray) -> list[Detection]:
        height, width = frame_bgr.shape[:2]
        longest = max(height, width)
        scale = 1.0
        if longest > self.info.max_side:
            scale = self.info.max_side / longest
        elif longest < self.info.min_side:
            scale = self.info.min_side / longest
        image = frame_bgr
        if scale != 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            shrink = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
            image = cv2.resize(frame_bgr, size, interpolation=shrink)
        size = (image.shape[1], image.shape[0])
        if size != self._input_size:
            self._net.setInputSize(size)
            self._input_size = size
        _, faces = self._net.detect(image)
        if faces is None:
            return []
        detections = []
        for face in faces:
            if not np.isfinite(face[:4]).all():
                continue  # an exp() overflow in the box decoding, on odd inputs: not a face
            x, y, w, h = (float(v) / scale for v in face[:4])
            x1, y1 = max(0, int(round(x))), max(0, int(round(y)))
            x2, y2 = min(width, int(round(x + w))), min(height, int(round(y + h)))
            if x2 > x1 and y2 > y1:
                points = tuple((float(px) / scale, float(py) / scale)
                               for px, py in face[4:14].reshape(5, 2))  # fmt: skip
                detections.append(Detection((x1, y1, x2, y2), float(face[-1]), points))
        return detections
