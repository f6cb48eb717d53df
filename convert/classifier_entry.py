"""The bundle manifest's classifier entry, read from a converted model's own input tensor.

Its own module so that conversion (``tflite``) and bundling (``bundle``) both use it
without importing each other in a circle.
"""

from pathlib import Path

import numpy as np

from maskwatch.core.bundle import ClassifierInfo
from maskwatch.core.labels import CLASSIFIER_LABELS
from maskwatch.vision.runtime import load_interpreter


def classifier_info(model: Path, input_size: int) -> ClassifierInfo:
    """The manifest entry for a converted model, read from its own input tensor."""
    details = load_interpreter(model).get_input_details()[0]
    scale, zero_point = details["quantization"]
    return ClassifierInfo(
        file=model.name,
        labels=CLASSIFIER_LABELS,
        input_size=input_size,
        dtype=np.dtype(details["dtype"]).name,
        input_scale=float(scale),
        input_zero_point=int(zero_point),
    )
