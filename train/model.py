"""The Keras mask / no-mask classifier: a small depthwise-separable CNN.

It takes RGB pixels 0..255 and scales them itself, so the int8 model's input
quantization comes out as ``q = pixel - 128`` (scale 1, zero point -128).
"""

import keras
from keras import layers

from edge.labels import CLASSIFIER_LABELS


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
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(len(CLASSIFIER_LABELS), activation="softmax", name="label")(x)
    return keras.Model(inputs, outputs, name="maskwatch_small_cnn")
