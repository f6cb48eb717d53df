"""The parity gate: the int8 model must be as accurate as the model it came from.

Crop accuracy on the saved crop test split is compared with the Keras model; scene F1
(the whole bundle on the held-out scenes) with the float32 TFLite model, which is the
Keras model's graph and weights unquantized, run through the same device pipeline.
A gap of more than half a point in any gated figure fails the conversion, naming both
numbers. Scene F1 of ``mask_incorrect`` is reported but not gated: the test photos hold
about a dozen such faces, so one face moves it by several points.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from maskwatch.core.bundle import Bundle
from maskwatch.core.labels import MASK, NO_MASK
from maskwatch.train.datasets import FaceSample
from maskwatch.train.evaluate import evaluate_scenes
from maskwatch.vision.classifier import TFLiteClassifier
from maskwatch.vision.pipeline import MaskPipeline

TOLERANCE = 0.005  # half a point
GATED_SCENE_LABELS = (MASK, NO_MASK)


class ParityError(RuntimeError):
    """The int8 model lost accuracy against its reference."""


@dataclass(frozen=True)
class Figure:
    name: str
    reference: float
    int8: float
    gated: bool = True

    @property
    def gap(self) -> float:
        return self.reference - self.int8


def crop_figures(
    keras_probabilities: np.ndarray, int8: TFLiteClassifier, x: np.ndarray, y: np.ndarray
) -> tuple[list[Figure], float]:
    """Crop accuracy of both models, and the share of crops they label alike."""
    keras_labels = keras_probabilities.argmax(axis=1)
    int8_labels = int8.probabilities(list(x)).argmax(axis=1)
    figure = Figure(
        "crop test accuracy", float((keras_labels == y).mean()), float((int8_labels == y).mean())
    )
    return [figure], float((keras_labels == int8_labels).mean())


def scene_figures(
    reference: Bundle, int8: Bundle, by_image: dict[Path, list[FaceSample]]
) -> list[Figure]:
    """Scene F1 per label of the float32 bundle and of the int8 bundle."""
    before = evaluate_scenes(MaskPipeline(reference), by_image)["per_label"]
    after = evaluate_scenes(MaskPipeline(int8), by_image)["per_label"]
    return [
        Figure(
            f"scene F1 {label}",
            before[label]["f1"],
            after[label]["f1"],
            gated=label in GATED_SCENE_LABELS,
        )
        for label in before
    ]


def check(figures: list[Figure], tolerance: float = TOLERANCE) -> None:
    """Raise :class:`ParityError` naming every figure the int8 model lost too much on."""
    failed = [f for f in figures if f.gated and f.gap > tolerance]
    if failed:
        detail = "; ".join(f"{f.name} {f.int8:.4f} vs {f.reference:.4f}" for f in failed)
        raise ParityError(
            f"int8 model fails the parity gate (more than {tolerance * 100:.1f} points lost): "
            f"{detail}; check the representative data"
        )
