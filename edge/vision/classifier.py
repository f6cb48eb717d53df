"""The mask / no-mask classifier: a TFLite model run on a batch of face crops."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from maskwatch.core.bundle import ClassifierInfo
from maskwatch.core.errors import BundleError
from maskwatch.core.labels import decide_labels
from maskwatch.core.preprocess import to_input_batch
from maskwatch.vision.runtime import load_interpreter


@dataclass(frozen=True)
class Classification:
    label: str
    score: float  # probability of ``label``, 0..1
    demoted: bool = False  # ``mask`` was likeliest, but under the operating point
    probabilities: tuple[float, ...] = ()  # of every label, in the manifest's order


class TFLiteClassifier:
    """Runs the bundle's classifier; checks its tensors against the manifest at load."""

    def __init__(
        self,
        model: Path,
        info: ClassifierInfo,
        threads: int = 1,
        runtime: str = "auto",
        mask_min_score: float = 0.0,
    ) -> None:
        self.info = info
        # The operating point: `mask` only at P(mask) >= this (maskwatch.core.labels.decide_labels).
        self.mask_min_score = mask_min_score
        self._interpreter = load_interpreter(model, threads, runtime)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._check_tensors(model)
        self._batch = int(self._input["shape"][0])

    def _check_tensors(self, model: Path) -> None:
        size, dtype = self.info.input_size, np.dtype(self._input["dtype"]).name
        shape = tuple(int(v) for v in self._input["shape"][1:])
        problems = []
        if shape != (size, size, 3):
            problems.append(f"input shape {shape}, manifest says {(size, size, 3)}")
        if dtype != self.info.dtype:
            problems.append(f"input type {dtype}, manifest says {self.info.dtype}")
        scale, zero_point = self._input["quantization"]
        if dtype != "float32" and (
            not np.isclose(scale, self.info.input_scale) or zero_point != self.info.input_zero_point
        ):
            problems.append(
                f"input quantization ({scale}, {zero_point}), manifest says "
                f"({self.info.input_scale}, {self.info.input_zero_point})"
            )
        outputs = int(self._output["shape"][-1])
        if outputs != len(self.info.labels):
            problems.append(f"{outputs} outputs for {len(self.info.labels)} labels")
        if problems:
            raise BundleError(f"{model}: does not match the manifest: {'; '.join(problems)}")

    def probabilities(self, faces: list[np.ndarray]) -> np.ndarray:
        """Class probabilities (N, labels) for uint8 face crops, in one interpreter call."""
        if not faces:
            return np.zeros((0, len(self.info.labels)), np.float32)
        batch = to_input_batch(
            faces, self._input["dtype"], self.info.input_scale, self.info.input_zero_point
        )
        if len(batch) != self._batch:
            self._interpreter.resize_tensor_input(self._input["index"], list(batch.shape))
            self._interpreter.allocate_tensors()
            self._batch = len(batch)
        self._interpreter.set_tensor(self._input["index"], batch)
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._output["index"])
        scale, zero_point = self._output["quantization"]
        if scale:
            return (raw.astype(np.float32) - zero_point) * scale
        return raw.astype(np.float32)

    def classify(self, faces: list[np.ndarray]) -> list[Classification]:
        probabilities = self.probabilities(faces)
        likeliest = probabilities.argmax(axis=1)
        decided = decide_labels(probabilities, self.info.labels, self.mask_min_score)
        return [
            Classification(
                self.info.labels[i],
                float(np.clip(p[i], 0.0, 1.0)),
                bool(i != top),
                tuple(map(float, p)),
            )  # fmt: skip
            for i, top, p in zip(decided, likeliest, probabilities, strict=True)
        ]
