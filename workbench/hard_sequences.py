"""The hard moments of real video, rendered with known people (issue 24): a head turned
down, a hand over the face, a step out of view and back, a mask pulled down and up,
camera shake, a face filling a third of the frame, two people crossing.

Each sequence is a :class:`~workbench.door_scenes.DoorSequence` over the door stage's
background with held-out people, so every person's face box and label is known in every
frame; :mod:`workbench.track_bench` scores what the daemon's frame loop makes of them.
"""

from dataclasses import dataclass

import cv2

from maskwatch.core.labels import MASK, MASK_INCORRECT, NO_MASK
from workbench.door_scenes import Change, Cover, DoorSequence, Sprite, Walker
from workbench.door_stage import DoorStage

NEAR = 110  # px: a face 1.5-2 m from the camera at 1280x720


@dataclass(frozen=True)
class HardSequence:
    name: str
    what: str  # one line for the table
    sequence: DoorSequence


def painted(sprite: Sprite, placement: str, seed: int) -> Sprite:
    """``sprite`` with a mask painted on at ``placement`` (worn / nose_out / chin), by the
    training's own painter (FaceMesh landmarks), so it is the same person."""
    from maskwatch.train.synthetic_masks import WORN_WRONGLY, MaskPainter

    x1, y1, x2, y2 = sprite.face
    pad = (x2 - x1) // 4
    top, left = max(0, y1 - pad), max(0, x1 - pad)
    crop = sprite.image[top : y2 + pad, left : x2 + pad]
    rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
    masked = MaskPainter(seed=seed).paint(rgb, placement)
    if masked is None:
        raise SystemExit("hard sequences: FaceMesh found no face to paint a mask on")
    image = sprite.image.copy()
    image[top : y2 + pad, left : x2 + pad] = cv2.cvtColor(masked, cv2.COLOR_RGB2BGR)
    label = MASK_INCORRECT if placement in WORN_WRONGLY else MASK
    return Sprite(image, sprite.alpha, sprite.face, label)


def build(stage: DoorStage) -> list[HardSequence]:
    masked, bare, _ = stage.one_of_each((MASK, NO_MASK, MASK_INCORRECT))
    worn, pulled_down = painted(bare, "worn", 3), painted(bare, "nose_out", 3)
    background = stage.background

    def standing(face: int = NEAR, pause: float = 6.0, leftwards: bool = False) -> Walker:
        """Walks in to the middle, stands for ``pause`` seconds, walks back out."""
        return Walker(0.5, 3.0, face, 0.36, leftwards=leftwards, pause=pause)

    def make(walkers: tuple[Walker, ...], sprites: list[Sprite], seconds: float,
             **effects: object) -> DoorSequence:  # fmt: skip
        return DoorSequence(background, sprites, walkers, seconds, None, **effects)

    return [
        HardSequence("head_down", "bare face turned down for 2.5 s while standing",
                     make((standing(),), [bare], 13.5, covers=(Cover(0, 3.0, 5.5, "down"),))),
        HardSequence("hand", "masked face behind a hand for 1.5 s",
                     make((standing(),), [masked], 13.5, covers=(Cover(0, 3.0, 4.5, "hand"),))),
        HardSequence("out_and_back", "crosses and leaves, back 3 s later from the same side",
                     make((Walker(0.5, 3.0, NEAR, 0.36), Walker(6.5, 3.0, NEAR, 0.36,
                           leftwards=True, person=0)), [bare], 13.0)),
        HardSequence("mask_down_up", "mask worn, pulled under the nose at 4 s, up at 8 s",
                     make((standing(pause=9.0),), [worn], 16.5,
                          changes=(Change(0, 4.0, pulled_down), Change(0, 8.0, worn)))),
        HardSequence("shake", "bare face standing, the camera shaking by 8 px a frame",
                     make((standing(),), [bare], 13.5, shake=8)),
        HardSequence("large", "a face 420 px wide (a third of the frame) standing",
                     make((Walker(0.5, 3.0, 420, 0.5, pause=4.0),), [masked], 11.0)),
        HardSequence("crossing", "a masked and a bare person crossing each other",
                     make((Walker(0.5, 5.0, NEAR, 0.36), Walker(0.5, 5.0, 100, 0.38,
                           leftwards=True, person=1)), [masked, bare], 9.5)),
    ]  # fmt: skip
