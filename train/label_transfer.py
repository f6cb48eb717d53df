"""Carry labels that only one source knows onto the copy of the photo the split keeps.

The VOC scenes label masks worn below the nose ``mask_incorrect``; the YOLO copies of the
same photos (kept by deduplication, they have the higher resolution) call those faces
``mask`` or ``no_mask``. Each VOC ``mask_incorrect`` face is scaled to its YOLO copy and
matched by IoU, and the YOLO face takes the label, so the third class keeps its real
examples instead of leaving with the dropped VOC photo.
"""

from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from maskwatch.core.labels import MASK_INCORRECT
from maskwatch.core.matching import match_greedy
from maskwatch.train.datasets import FaceSample, imagesize
from maskwatch.train.dedup import group_scenes

MIN_IOU = 0.5


def _scaled(box: tuple[int, int, int, int], sx: float, sy: float) -> tuple[int, ...]:
    return (round(box[0] * sx), round(box[1] * sy), round(box[2] * sx), round(box[3] * sy))


def carry_labels(samples: list[FaceSample], label: str = MASK_INCORRECT) -> list[FaceSample]:
    """``samples`` with every face of ``label`` copied onto the same face in the other
    copies of its photo (found by perceptual hash, matched by IoU >= 0.5)."""
    scenes = [s for s in samples if s.box is not None]
    groups = group_scenes(scenes)
    members: dict[str, set[str]] = defaultdict(set)
    images: dict[str, Path] = {}
    for sample in scenes:
        members[groups[sample.scene]].add(sample.scene)
        images[sample.scene] = sample.image
    by_scene: dict[str, list[int]] = defaultdict(list)
    for index, sample in enumerate(samples):
        by_scene[sample.scene].append(index)
    relabelled = list(samples)
    for source_scene in sorted({s.scene for s in scenes if s.label == label}):
        marked = [samples[i] for i in by_scene[source_scene] if samples[i].label == label]
        width, height = imagesize(images[source_scene])
        for copy in sorted(members[groups[source_scene]] - {source_scene}):
            copy_width, copy_height = imagesize(images[copy])
            sx, sy = copy_width / width, copy_height / height
            targets = by_scene[copy]
            pairs = match_greedy(
                [_scaled(face.box, sx, sy) for face in marked],
                [samples[i].box for i in targets],
                MIN_IOU,
            )
            for _, target in pairs:
                relabelled[targets[target]] = replace(samples[targets[target]], label=label)
    return relabelled
