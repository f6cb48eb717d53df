"""Augmentation that looks like cameras: flip, small rotation, crop jitter, a head turned
a little further (a perspective warp about the vertical axis), brightness, gamma, blur (a
lower-resolution face), and JPEG noise."""

import numpy as np
import tensorflow as tf

YAW = 0.3  # perspective strength at the crop's edge: about +-20 degrees more head turn


def _turn_head(images: tf.Tensor, seed: int) -> tf.Tensor:
    """Warp each image of a batch as if the face turned a little: about the centre
    (x0, y0), x' - x0 = (x - x0) / k and y' - y0 = (y - y0) / k with k = 1 + c (x - x0),
    written as the projective transform ``ImageProjectiveTransformV3`` takes."""
    batch, size = tf.shape(images)[0], tf.cast(tf.shape(images)[1], tf.float32)
    c = tf.random.uniform([batch], -YAW, YAW, seed=seed) / size
    x0 = y0 = size / 2
    m = 1 - c * x0
    zeros = tf.zeros_like(c)
    transforms = tf.stack(
        [(1 + c * x0) / m, zeros, -c * x0 * x0 / m,
         c * y0 / m, 1 / m, -c * x0 * y0 / m,
         c / m, zeros],
        axis=1,
    )  # fmt: skip
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.shape(images)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )


def _per_image(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    image = tf.image.random_flip_left_right(image)
    image = tf.image.random_jpeg_quality(image, 40, 95)  # uint8 in, uint8 out
    x = tf.cast(image, tf.float32)
    size = tf.shape(x)[0]
    # Blur as a camera sees a small face: down to 40..100% of the size and back up.
    scale = tf.random.uniform([], 0.4, 1.0)
    small = tf.cast(tf.cast(size, tf.float32) * scale, tf.int32)
    x = tf.image.resize(tf.image.resize(x, [small, small]), [size, size])
    x = tf.image.random_brightness(x, 32.0)
    x = tf.image.random_contrast(x, 0.75, 1.25)
    gamma = tf.exp(tf.random.uniform([], np.log(0.7), np.log(1.4)))
    x = 255.0 * tf.pow(tf.clip_by_value(x, 0.0, 255.0) / 255.0, gamma)
    return x, label


def augment_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int) -> tf.data.Dataset:
    """A shuffled, augmented, batched training set from uint8 crops."""
    import keras

    geometry = keras.Sequential(
        [
            keras.layers.RandomRotation(0.03, fill_mode="reflect", seed=seed),  # about 10 degrees
            keras.layers.RandomTranslation(0.06, 0.06, fill_mode="reflect", seed=seed),
            keras.layers.RandomZoom(0.1, fill_mode="reflect", seed=seed),
        ]
    )
    return (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
        .map(_per_image, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(batch_size)
        .map(lambda images, labels: (_turn_head(geometry(images, training=True), seed), labels))
        .prefetch(tf.data.AUTOTUNE)
    )
