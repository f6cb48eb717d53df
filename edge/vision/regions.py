"""Where to run the face detector: regions around motion and tracked faces, or the whole frame.

A region is a rectangle of the frame, cropped and detected at native resolution, or
shrunk (its ``scale``) where full resolution buys nothing: a motion region longer than
``region_size`` is shrunk to it, and a tracked face's region only as far as keeps the
face FACE_INPUT pixels wide. Regions that overlap are merged (a face is then detected
once, whole) at the finer of their scales. YuNet takes any input size, so regions are
not forced square as a fixed-input model's would be: a square costs pixels and finds
nothing more. Regions never cost the detector more than one full-frame pass would:
the dearest are shrunk towards that pass's scale (a near person's large motion region
seen as the pass would see it, for a third of the pixels), but a region around a tracked
face no further than keeps that face FACE_MIN_INPUT pixels wide (a far face shrunk to
the pass's scale is lost, which is what regions are for); when that is not enough, or
when they cover most of the frame, the plan falls back to the pass itself
(:func:`plan_regions` returns None).
"""

import math
from dataclasses import dataclass

from maskwatch.core.preprocess import Box

MOTION_MARGIN = 0.15  # of a motion box's longer side, added on each side
FACE_MARGIN = 0.5  # face widths added on each side of a tracked face: the head may move
ALIGN = 32  # region sides are rounded up to this (YuNet's stride; fewer input shapes)
FACE_INPUT = 64  # px: how wide a tracked face needs to be in the detector's input
FACE_MIN_INPUT = 32  # px: how narrow it may get while regions are shrunk to fit the budget
FULL_FRAME_SHARE = 0.5  # regions covering more of the frame than this: the whole frame
# What one more detector call costs besides its pixels, in pixels' worth of YuNet work:
# a fixed cost per call and, when the input size changes, rebuilding YuNet's buffers
# (about 0.6 + 1 ms on x86, at about 0.15 us a pixel).
CALL_PIXELS = 10_000


@dataclass(frozen=True)
class Region:
    box: Box  # x1, y1, x2, y2 in the frame's pixels
    scale: float = 1.0  # the detector's input pixels per frame pixel, at most 1
    min_scale: float = 0.0  # the least scale that keeps a tracked face in it detectable

    @property
    def cost(self) -> float:
        """The pixels the detector sees, plus the cost of a call of its own."""
        x1, y1, x2, y2 = self.box
        return (x2 - x1) * (y2 - y1) * self.scale * self.scale + CALL_PIXELS

    def to_frame(self, box: Box) -> Box:
        """A box found in this region's (shrunk) crop, in the frame's pixels."""
        x1, y1, x2, y2 = (round(v / self.scale) for v in box)
        return (x1 + self.box[0], y1 + self.box[1], x2 + self.box[0], y2 + self.box[1])


def capped(box: Box, scale: float, region_size: int, min_scale: float = 0.0) -> Region:
    """``box`` at ``scale``, shrunk further if its longest side would exceed ``region_size``."""
    longest = max(box[2] - box[0], box[3] - box[1])
    scale = min(1.0, scale, region_size / longest)
    return Region(box, scale, min(scale, min_scale))


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


def span(a: Box, b: Box) -> Box:
    """The smallest box holding both."""
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def merge_overlapping(regions: list[Region], region_size: int) -> list[Region]:
    """Regions that overlap replaced by their bounding box at the finer scale, until none
    overlap."""
    merged = list(regions)
    changed = True
    while changed:
        changed = False
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                a, b = merged[i].box, merged[j].box
                if overlap(a, b):
                    other = merged.pop(j)
                    merged[i] = capped(span(a, b), max(merged[i].scale, other.scale), region_size,
                                       max(merged[i].min_scale, other.min_scale))  # fmt: skip
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
) -> list[Region] | None:
    """The regions to detect on for these motion boxes and tracked faces, or None for one
    full-frame pass (the frame shrunk to ``full_frame_side``; 0 = not shrunk).

    While the regions cost the detector more than that pass, the dearest are shrunk to
    the pass's scale (where they see what the pass would, for less), or to their
    ``min_scale`` where that is larger; regions that cover most of the frame, or that
    still cost more, give way to the pass itself."""
    min_side = region_size // 4
    regions = [capped(expand(b, MOTION_MARGIN, min_side, frame_size), 1.0, region_size)
               for b in motion]  # fmt: skip
    regions += [capped(expand(b, FACE_MARGIN, min_side, frame_size),
                       FACE_INPUT / max(1, b[2] - b[0]), region_size,
                       FACE_MIN_INPUT / max(1, b[2] - b[0])) for b in faces]  # fmt: skip
    regions = merge_overlapping(regions, region_size)
    width, height = frame_size
    area = sum((r.box[2] - r.box[0]) * (r.box[3] - r.box[1]) for r in regions)
    if area > FULL_FRAME_SHARE * width * height:
        return None
    full_pixels = input_pixels(width, height, full_frame_side)
    full_scale = math.sqrt(full_pixels / (width * height))
    budget = full_pixels + CALL_PIXELS  # the pass is a detector call too
    regions.sort(key=lambda r: r.cost, reverse=True)
    for i, region in enumerate(regions):
        if sum(r.cost for r in regions) < budget:
            return regions
        shrunk = max(region.min_scale, min(region.scale, full_scale))
        regions[i] = Region(region.box, shrunk, region.min_scale)
    return regions if sum(r.cost for r in regions) < budget else None
