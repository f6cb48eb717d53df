"""Cheap motion detection on a small grey copy of each frame (the design Frigate uses).

A running average of the small frame is the background; pixels that differ from it by
more than ``threshold`` grey levels are moving, and their blobs become motion boxes in
the frame's pixels. Ignore masks (polygons in frame fractions) never count as moving.
When most of the picture changes at once (lights switched on, the camera's exposure
stepping) the background is reset to the new picture instead of reporting a minute of
motion while the average catches up.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from maskwatch.core.config import MotionConfig
from maskwatch.core.preprocess import Box

BLUR = 5  # Gaussian kernel on the small frame: sensor noise is not motion
# The small frame samples the frame's pixels (nearest neighbour): it reads a hundredth of
# the frame's memory, where averaging reads it all (0.03 ms against 0.1-1 ms at 1280x720
# on x86, where memory, not arithmetic, is the cost); the blur then averages the noise.


@dataclass(frozen=True)
class Motion:
    boxes: list[Box]  # moving areas, in the frame's pixels
    reset: bool = False  # the background was (re)set this frame: nothing is known to move


def ignore_mask(polygons: tuple[tuple[float, ...], ...], size: tuple[int, int]) -> np.ndarray:
    """A uint8 image of ``size`` (width, height): 0 inside the polygons, 255 elsewhere."""
    width, height = size
    mask = np.full((height, width), 255, np.uint8)
    for polygon in polygons:
        points = np.array(polygon, np.float32).reshape(-1, 2) * (width, height)
        cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 0)
    return mask


class MotionDetector:
    def __init__(self, config: MotionConfig) -> None:
        self.config = config
        self._background: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self._frame_size = (0, 0)
        self._small_size = (0, 0)
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))

    def _small_grey(self, frame_bgr: np.ndarray) -> np.ndarray:
        height, width = frame_bgr.shape[:2]
        if (width, height) != self._frame_size:  # first frame, or the camera changed size
            small_h = min(self.config.frame_height, height)
            self._frame_size = (width, height)
            self._small_size = (max(1, round(width * small_h / height)), small_h)
            self._mask = ignore_mask(self.config.mask, self._small_size)
            self._background = None
        small = cv2.resize(frame_bgr, self._small_size, interpolation=cv2.INTER_NEAREST)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        return cv2.GaussianBlur(grey, (BLUR, BLUR), 0).astype(np.float32)

    def detect(self, frame_bgr: np.ndarray) -> Motion:
        grey = self._small_grey(frame_bgr)
        if self._background is None:
            self._background = grey
            return Motion([], reset=True)
        difference = cv2.absdiff(grey, self._background)
        _, changed = cv2.threshold(difference, self.config.threshold, 255, cv2.THRESH_BINARY)
        changed = cv2.bitwise_and(changed.astype(np.uint8), self._mask)
        watched = cv2.countNonZero(self._mask)
        if watched and cv2.countNonZero(changed) > self.config.global_change * watched:
            self._background = grey
            return Motion([], reset=True)
        cv2.accumulateWeighted(grey, self._background, self.config.alpha)
        changed = cv2.dilate(changed, self._kernel, iterations=2)
        contours, _ = cv2.findContours(changed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        scale_x = self._frame_size[0] / self._small_size[0]
        scale_y = self._frame_size[1] / self._small_size[1]
        boxes = []
        for contour in contours:
            if cv2.contourArea(contour) < self.config.contour_area:
                continue
            x, y, w, h = cv2.boundingRect(contour)
            boxes.append((int(x * scale_x), int(y * scale_y),
                          min(self._frame_size[0], int(np.ceil((x + w) * scale_x))),
                          min(self._frame_size[1], int(np.ceil((y + h) * scale_y)))))  # fmt: skip
        return Motion(boxes)
