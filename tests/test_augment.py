"""The head-turn warp of the training augmentation, on a real face crop."""

import cv2
import numpy as np
import tensorflow as tf

from maskwatch.train.augment import _turn_head


def test_a_turned_head_keeps_the_centre_line_and_narrows_one_side(data_root):
    path = sorted((data_root / "crops" / "with_mask").glob("*.jpg"))[5]
    face = cv2.resize(cv2.imread(str(path)), (96, 96)).astype(np.float32)
    batch = tf.constant(np.stack([face] * 16))
    turned = _turn_head(batch, seed=3).numpy()
    # x = x0 maps onto itself, every row: the centre column survives every warp
    assert np.allclose(turned[:, :, 48], face[None, :, 48], atol=1e-3)
    changed = np.abs(turned - face).mean(axis=(1, 2, 3))
    assert (changed > 0.5).mean() > 0.8  # nearly every face is turned noticeably
    assert len(np.unique(np.round(changed, 3))) > 8  # by different amounts
