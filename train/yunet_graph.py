"""YuNet's ONNX graph as a trainable TensorFlow function, and its weights written back.

The shipped detector is an opset-11 graph of Conv, Relu, MaxPool, Resize (nearest, x2),
Add, Sigmoid, Transpose and Reshape. :class:`YuNetGraph` walks that node list in order
with TensorFlow ops (NHWC inside, so the graph's output Transposes become no-ops) and
holds every initializer of a Conv as a ``tf.Variable``. :meth:`YuNetGraph.export` copies
the graph and replaces only those initializers' values, so the file keeps its nodes,
names, opset and dynamic shapes, and ``cv2.FaceDetectorYN`` loads it as it loads the
original, at the same cost per frame.
"""

from pathlib import Path

import numpy as np
import onnx
import tensorflow as tf
from onnx import numpy_helper

STRIDES = (8, 16, 32)
HEADS = ("cls", "obj", "bbox", "kps")
SUPPORTED_OPS = {"Conv", "Relu", "MaxPool", "Resize", "Add", "Sigmoid", "Transpose", "Reshape"}


class GraphError(ValueError):
    """The ONNX file is not a YuNet graph this module can train."""


def _attributes(node: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class YuNetGraph(tf.Module):
    """The detector's forward pass; call it on a float32 NHWC BGR batch (0-255, H, W % 32 == 0).

    Returns ``{"cls_8": ..., "obj_8": ..., "bbox_8": ..., "kps_8": ..., ...}`` shaped
    ``(batch, anchors, k)``, where ``cls_*`` and ``obj_*`` are the logits the graph feeds its
    Sigmoids (the file's outputs are their sigmoids) and anchors run row-major as in OpenCV.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(name="yunet")
        self.model = onnx.load(str(path))
        graph = self.model.graph
        unsupported = {n.op_type for n in graph.node} - SUPPORTED_OPS
        outputs = {o.name for o in graph.output}
        expected = {f"{h}_{s}" for h in HEADS for s in STRIDES}
        if unsupported or outputs != expected:
            raise GraphError(
                f"{path}: not a YuNet graph (unsupported ops {sorted(unsupported)}, "
                f"outputs {sorted(outputs)})"
            )
        self._nodes = list(graph.node)
        self._constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        conv_inputs = {name for n in self._nodes if n.op_type == "Conv" for name in n.input[1:]}
        self.weights = {
            name: tf.Variable(self._to_tf(name, value), name=name.replace(".", "_"))
            for name, value in self._constants.items()
            if name in conv_inputs
        }
        self._variables_in_order = [self.weights[k] for k in sorted(self.weights)]

    @property
    def trainable(self) -> list[tf.Variable]:
        return self._variables_in_order

    def _conv_node(self, name: str) -> onnx.NodeProto:
        return next(n for n in self._nodes if n.op_type == "Conv" and name in n.input[1:])

    def _to_tf(self, name: str, value: np.ndarray) -> np.ndarray:
        """ONNX (O, I/g, kh, kw) kernels -> TF layout; biases stay as they are."""
        if value.ndim != 4:
            return value
        if _attributes(self._conv_node(name)).get("group", 1) == 1:
            return value.transpose(2, 3, 1, 0)  # HWIO
        return value.transpose(2, 3, 0, 1)  # depthwise: (kh, kw, C, 1)

    def _from_tf(self, name: str, value: np.ndarray) -> np.ndarray:
        if value.ndim != 4:
            return value
        if _attributes(self._conv_node(name)).get("group", 1) == 1:
            return value.transpose(3, 2, 0, 1)
        return value.transpose(2, 3, 0, 1)

    def _conv(self, node: onnx.NodeProto, x: tf.Tensor) -> tf.Tensor:
        attrs = _attributes(node)
        top, left, bottom, right = attrs.get("pads", [0, 0, 0, 0])
        padding = [[0, 0], [top, bottom], [left, right], [0, 0]]
        strides = [1, *attrs.get("strides", [1, 1]), 1]
        kernel = self.weights[node.input[1]]
        if attrs.get("group", 1) == 1:
            y = tf.nn.conv2d(x, kernel, strides, padding)
        else:
            y = tf.nn.depthwise_conv2d(tf.pad(x, padding), kernel, strides, "VALID")
        return y + self.weights[node.input[2]] if len(node.input) > 2 else y

    def __call__(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        values: dict[str, tf.Tensor] = {self.model.graph.input[0].name: images}
        logits: dict[str, tf.Tensor] = {}
        batch = tf.shape(images)[0]
        for node in self._nodes:
            inputs = [values.get(name) for name in node.input]
            op = node.op_type
            if op == "Conv":
                out = self._conv(node, inputs[0])
            elif op == "Relu":
                out = tf.nn.relu(inputs[0])
            elif op == "MaxPool":
                size = _attributes(node)["kernel_shape"]
                out = tf.nn.max_pool2d(inputs[0], size, _attributes(node)["strides"], "VALID")
            elif op == "Resize":  # nearest, asymmetric, floor, scale 2: each pixel twice
                out = tf.repeat(tf.repeat(inputs[0], 2, axis=1), 2, axis=2)
            elif op == "Add":
                out = inputs[0] + inputs[1]
            elif op == "Transpose":  # NCHW -> NHWC in the file; already NHWC here
                out = inputs[0]
            elif op == "Reshape":
                width = int(self._constants[node.input[1]][-1])
                out = tf.reshape(inputs[0], [batch, -1, width])
            else:  # Sigmoid: keep its input as the logit of the output it makes
                logits[node.output[0]] = inputs[0]
                out = tf.sigmoid(inputs[0])
            values[node.output[0]] = out
        result = {}
        for output in self.model.graph.output:
            producer = next(n for n in self._nodes if output.name in n.output)
            if producer.op_type == "Sigmoid":
                result[output.name] = logits[output.name]
            else:
                result[output.name] = values[output.name]
        return result

    def export(self, path: Path) -> None:
        """Write the original graph with these weights as its initializers."""
        model = onnx.ModelProto()
        model.CopyFrom(self.model)
        for tensor in model.graph.initializer:
            if tensor.name in self.weights:
                value = self._from_tf(tensor.name, self.weights[tensor.name].numpy())
                tensor.CopyFrom(numpy_helper.from_array(value.astype(np.float32), tensor.name))
        onnx.checker.check_model(model)
        path.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(model, str(path))


def prior_grid(height: int, width: int) -> np.ndarray:
    """(anchors, 3) rows of (column, row, stride), stride 8 then 16 then 32, row-major."""
    rows = []
    for stride in STRIDES:
        ys, xs = np.mgrid[: height // stride, : width // stride]
        level = np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, stride)], axis=1)
        rows.append(level)
    return np.concatenate(rows).astype(np.float32)


def concat_levels(outputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """The head outputs of all strides, concatenated in :func:`prior_grid`'s order."""
    return {head: tf.concat([outputs[f"{head}_{s}"] for s in STRIDES], axis=1) for head in HEADS}
