"""Where to run the face detector: regions around motion and tracked faces, or the whole frame.

A region is a rectangle of the frame cropped at native resolution; one longer than
``region_size`` is shrunk to it by the detector. Regions that overlap are merged (a
face is then detected once, whole). YuNet takes any input size, so regions are not
forced square as a fixed-input model's would be: a square costs pixels and finds
nothing more. When the regions together would cost the detector as many input pixels
as one full-frame pass, the full-frame pass is cheaper and sees everything: the plan
falls back to it (:func:`plan_regions` returns None).
"""

from edge.preprocess import Box

MOTION_MARGIN = 0.15  # of a motion box's longer side, added on each side
FACE_MARGIN = 0.5  # face widths added on each side of a tracked face: the head may move
ALIGN = 32  # region sides are rounded up to this (YuNet's stride; fewer input shapes)


def expand(box: Box, margin: float, min_side: int, frame_size: tuple[int, int]) -> Box:
    """``box`` grown by ``margin`` of its longer side on each side, at least ``min_side``
    (and a multiple of ALIGN) wide and high where the frame allows, kept inside the frame."""
    width, height = frame_size
    x1, y1, x2, y2 = box
    pad = margin * max(x2 - x1, y2 - y1)
    sides = []
    for low, high, limit in ((x1, x2, width), (y1, y2, height)):
        side = max(high - low + 2 * pad, min_side)
        side = min(limit, -(-int(side) // ALIGN) * ALIGN)
        start = int(round((low + high - side) / 2))
        start = min(max(0, start), limit - side)
        sides.append((start, start + side))
    (left, right), (top, bottom) = sides
    return (left, top, right, bottom)


def overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def merge_overlapping(boxes: list[Box]) -> list[Box]:
    """Boxes that overlap replaced by their bounding box, until none overlap."""
    merged = list(boxes)
    changed = True
    while changed:
        changed = False
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                if overlap(merged[i], merged[j]):
                    a, b = merged[i], merged.pop(j)
                    merged[i] = (min(a[0], b[0]), min(a[1], b[1]),
                                 max(a[2], b[2]), max(a[3], b[3]))  # fmt: skip
                    changed = True
                    break
            if changed:
                break
    return merged


def input_pixels(width: int, height: int, max_side: int) -> float:
    """Pixels the detector sees for a ``width`` x ``height`` image shrunk to ``max_side``."""
    scale = min(1.0, max_side / max(width, height)) if max_side else 1.0
    return width * height * scale * scale


def plan_regions(
    motion: list[Box],
    faces: list[Box],
    frame_size: tuple[int, int],
    region_size: int,
    full_frame_side: int,
) -> list[Box] | None:
    """The regions to detect on for these motion boxes and tracked faces, or None when one
    full-frame pass (the frame shrunk to ``full_frame_side``; 0 = not shrunk) is cheaper."""
    min_side = region_size // 4
    regions = [expand(b, MOTION_MARGIN, min_side, frame_size) for b in motion]
    regions += [expand(b, FACE_MARGIN, min_side, frame_size) for b in faces]
    regions = merge_overlapping(regions)
    cost = sum(input_pixels(x2 - x1, y2 - y1, region_size) for x1, y1, x2, y2 in regions)
    if cost >= input_pixels(*frame_size, full_frame_side):
        return None
    return regions


def to_frame(box: Box, region: Box) -> Box:
    """A box found in the crop of ``region`` in the frame's coordinates."""
    x1, y1, x2, y2 = box
    return (x1 + region[0], y1 + region[1], x2 + region[0], y2 + region[1])
