"""AIZOO's FaceMaskDetection, the most used open mask detector, as a benchmark peer only.

One Caffe SSD (github.com/AIZOOTech/FaceMaskDetection @256dc65, ``models/``, MIT) finds
faces and labels them mask / no mask in one pass: the whole frame resized to 260x260,
RGB, scaled by 1/255; per anchor, box offsets and two class scores. The anchors and the
decoding follow ``../shared/models/README.md`` (and upstream's ``opencv_dnn_infer.py``),
written here with numpy: a box is kept at a top-class score >= 0.5, then one NMS over
both classes at IoU 0.4.
"""

import hashlib
from contextlib import nullcontext
from pathlib import Path

import cv2
import numpy as np

from maskwatch.core.stats import StageTimes
from maskwatch.vision.pipeline import Face

INPUT_SIZE = 260
FEATURE_MAPS = (33, 17, 9, 5, 3)
ANCHOR_SIZES = ((0.04, 0.056), (0.08, 0.11), (0.16, 0.22), (0.32, 0.45), (0.64, 0.72))
RATIOS = (1.0, 0.62, 0.42)  # the first goes with every size, the others with the first size
VARIANCES = np.array([0.1, 0.1, 0.2, 0.2])
MIN_SCORE = 0.5
NMS_IOU = 0.4
LABELS = ("mask", "no_mask")  # class 0, class 1
OUTPUTS = ("loc_branch_concat", "cls_branch_concat")  # box offsets, class scores
MODEL, PROTOTXT = "face_mask_detection.caffemodel", "face_mask_detection.prototxt"
FILES = {  # file -> sha256, as ../shared/models/README.md lists them
    MODEL: "3c2e89cffdc9459a69dd5c2e4c1ca263e6488a56a5a37d81ca2ff32344fbf740",
    PROTOTXT: "8de363802d3557f3d9ff7e72dd61eead60f5e9e145bb962d7979b99ff85d4212",
}


def map_anchors(cells: int, sizes: tuple[float, float]) -> np.ndarray:
    """One feature map's anchors, (cells * cells * 4, 4) as centre x, centre y, width,
    height relative to the input: cells row by row (x fastest), four anchors per cell."""
    shapes = [(size, RATIOS[0]) for size in sizes] + [(sizes[0], r) for r in RATIOS[1:]]
    wh = np.array([(s * np.sqrt(r), s / np.sqrt(r)) for s, r in shapes])
    centres = (np.arange(cells) + 0.5) / cells
    cy, cx = np.meshgrid(centres, centres, indexing="ij")
    xy = np.stack([cx.ravel(), cy.ravel()], axis=1)
    return np.concatenate([np.repeat(xy, len(wh), axis=0), np.tile(wh, (cells * cells, 1))], axis=1)


def anchors() -> np.ndarray:
    """All 5972 anchors of the 260x260 input, in the network's output order."""
    return np.concatenate(
        [map_anchors(n, s) for n, s in zip(FEATURE_MAPS, ANCHOR_SIZES, strict=True)]
    )


def decode_boxes(offsets: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """Offsets (N, 4: dx, dy, dw, dh) on their anchors -> corners (N, 4: x1, y1, x2, y2),
    relative to the input."""
    scaled = offsets * VARIANCES
    centres = priors[:, :2] + scaled[:, :2] * priors[:, 2:]
    sizes = priors[:, 2:] * np.exp(scaled[:, 2:])
    return np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)


def nms(boxes: np.ndarray, scores: np.ndarray, max_iou: float = NMS_IOU) -> list[int]:
    """Greedy non-maximum suppression: indices of the kept boxes, best score first."""
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    kept = []
    while order.size:
        best, rest = order[0], order[1:]
        kept.append(int(best))
        low = np.maximum(boxes[best, :2], boxes[rest, :2])
        high = np.minimum(boxes[best, 2:], boxes[rest, 2:])
        inter = np.prod(np.clip(high - low, 0, None), axis=1)
        iou = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-12)
        order = rest[iou <= max_iou]
    return kept


def detections(offsets: np.ndarray, scores: np.ndarray, priors: np.ndarray) -> list[tuple]:
    """The network's outputs -> (x1, y1, x2, y2 relative and clipped, class, score) per
    face kept: top class >= MIN_SCORE, then NMS over both classes."""
    classes, best = scores.argmax(axis=1), scores.max(axis=1)
    keep = np.flatnonzero(best >= MIN_SCORE)
    boxes = np.clip(decode_boxes(offsets[keep], priors[keep]), 0.0, 1.0)
    kept = nms(boxes, best[keep])
    return [(*boxes[i], int(classes[keep[i]]), float(best[keep[i]])) for i in kept]


def check_files(folder: Path) -> None:
    """The two model files, present and the ones the README names (one-line errors)."""
    for name, digest in FILES.items():
        path = folder / name
        if not path.is_file():
            raise SystemExit(f"AIZOO model file missing: {path} (pass --models-dir DIR)")
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise SystemExit(f"{path}: sha256 is not the README's {digest[:12]}...; wrong file")


class AizooPipeline:
    """``process(frame)`` like :class:`maskwatch.vision.pipeline.MaskPipeline`, AIZOO's way.
    OpenCV's thread count is the caller's (``cv2.setNumThreads``)."""

    def __init__(self, folder: Path) -> None:
        check_files(folder)
        self.net = cv2.dnn.readNet(str(folder / MODEL), str(folder / PROTOTXT))
        self.priors = anchors()

    def process(self, frame_bgr: np.ndarray, times: StageTimes | None = None) -> list[Face]:
        """Every face found, labelled by its top class; the whole pass counts as detect."""
        height, width = frame_bgr.shape[:2]
        with times.measure("detect") if times else nullcontext():
            blob = cv2.dnn.blobFromImage(
                frame_bgr, 1 / 255.0, (INPUT_SIZE, INPUT_SIZE), swapRB=True
            )
            self.net.setInput(blob)
            offsets, scores = self.net.forward(OUTPUTS)
            found = detections(offsets[0], scores[0], self.priors)
        scale = np.array([width, height, width, height])
        return [
            Face(tuple(int(v) for v in np.round(np.array(box) * scale)), LABELS[cls], score, score)
            for *box, cls, score in found
        ]
