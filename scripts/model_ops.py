"""Multiply-accumulates per frame of the detectors at a given input size (docs/benchmarks.md).

``python -m scripts.model_ops WIDTH HEIGHT [ONNX ...]``: YuNet's convolutions (the default
bundle's detector unless files are named) counted from its ONNX
graph with shapes inferred at that size, padded up to multiples of 32 as
``cv2.FaceDetectorYN`` pads it (OpenCV's getFLOPS cannot reshape YuNet).
"""

import math
import sys
from pathlib import Path

import onnx
from onnx import shape_inference

from maskwatch.core.bundle import load_bundle

ROOT = Path(__file__).resolve().parent.parent


def conv_macs(model_path: Path, width: int, height: int) -> int:
    model = onnx.load(model_path)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_value, dims[3].dim_value = (32 * math.ceil(v / 32) for v in (height, width))
    model = shape_inference.infer_shapes(model)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*model.graph.value_info, *model.graph.output]}  # fmt: skip
    weights = {w.name: list(w.dims) for w in model.graph.initializer}
    macs = 0
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        out_channels, in_per_group, *kernel = weights[node.input[1]]
        _, _, out_h, out_w = shapes[node.output[0]]
        macs += out_channels * in_per_group * math.prod(kernel) * out_h * out_w
    return macs


if __name__ == "__main__":
    width, height = (int(v) for v in sys.argv[1:3])
    bundle = ROOT / "bundle"
    files = [Path(p) for p in sys.argv[3:]] or [bundle / load_bundle(bundle).manifest.detector.file]
    for yunet in files:
        macs = conv_macs(yunet, width, height) / 1e6
        print(f"{yunet.name} at {width}x{height}: {macs:.1f} M MACs")
