"""The classifier's labels: one definition shared by training, conversion and the device."""

from typing import Final

MASK: Final = "mask"
NO_MASK: Final = "no_mask"
# Kept apart in the data (a mask below the nose); the binary model is never trained on it.
MASK_INCORRECT: Final = "mask_incorrect"

# Order of the classifier's output units.
CLASSIFIER_LABELS: Final[tuple[str, ...]] = (MASK, NO_MASK)

# BGR colours for annotated images: green for a mask, red for no mask.
LABEL_COLOURS_BGR: Final[dict[str, tuple[int, int, int]]] = {
    MASK: (0, 200, 0),
    NO_MASK: (0, 0, 230),
    MASK_INCORRECT: (0, 165, 255),
}
