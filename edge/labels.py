"""The classifier's labels: one definition shared by training, conversion and the device."""

from typing import Final

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
