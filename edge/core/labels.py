"""The classifier's labels: one definition shared by training, conversion and the device."""

from collections.abc import Sequence
from typing import Final

import numpy as np

MASK: Final = "mask"
NO_MASK: Final = "no_mask"
# A mask worn wrongly: nose out, or pulled down onto the chin.
MASK_INCORRECT: Final = "mask_incorrect"

# Order of the classifier's output units. A bundle names its own labels in its manifest,
# so a two-class bundle made before the third class still loads.
CLASSIFIER_LABELS: Final[tuple[str, ...]] = (MASK, NO_MASK, MASK_INCORRECT)

# BGR colours for annotated images: green for a mask, red for no mask.
LABEL_COLOURS_BGR: Final[dict[str, tuple[int, int, int]]] = {
    MASK: (0, 200, 0),
    NO_MASK: (0, 0, 230),
    MASK_INCORRECT: (0, 165, 255),
}
# The default operating point (``pipeline.mask_min_score``), chosen for the alarm on the
# validation split and external-macwin: docs/training.md, issue 22.
DEFAULT_MASK_MIN_SCORE: Final = 0.7


def decide_labels(
    probabilities: np.ndarray, labels: Sequence[str], mask_min_score: float = 0.0
) -> np.ndarray:
    """Index of the label each face gets, for probabilities of shape (N, len(labels)).

    The most probable label, except that ``mask`` is given only when its probability is
    at least ``mask_min_score``: below that a face gets the most probable of the other
    labels. For an alarm, a face that is not surely masked is treated as not masked; this
    one rule is the operating point of training's reports and of the device alike.
    """
    probabilities = np.asarray(probabilities, np.float32)
    best = probabilities.argmax(axis=1) if len(probabilities) else np.zeros(0, np.int64)
    if MASK not in labels or len(labels) < 2:
        return best
    mask = list(labels).index(MASK)
    others = probabilities.copy()
    others[:, mask] = -np.inf
    unsure = probabilities[:, mask] < mask_min_score
    return np.where(unsure & (best == mask), others.argmax(axis=1), best)
