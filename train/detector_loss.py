"""YuNet's training targets and losses, as its own training defined them, in TensorFlow.

Decoding follows OpenCV's ``FaceDetectorYN`` exactly: a prior is the point
(column * stride, row * stride); ``cx = (column + bbox[0]) * stride``,
``w = exp(bbox[2]) * stride``; landmark ``x = (column + kps[2n]) * stride``; the score is
``sqrt(sigmoid(cls) * sigmoid(obj))``.

Which priors learn a face is decided per batch from the network's own predictions, by
SimOTA (YOLOX; libfacedetection.train uses it for YuNet): among the priors inside the box
or within 2.5 strides of its centre, the ``k`` cheapest by classification cost plus
3 x -log(IoU), ``k`` being the sum of the 10 best IoUs. Then, as YuNet was trained:
objectness is binary cross-entropy on every prior (target 1 for assigned priors, the
original detector's own objectness for the others: see :func:`detector_loss`), the
class score is cross-entropy on assigned priors only with the IoU as target, the box is
a GIoU loss (weight 5) and the landmarks a smooth-L1 loss where landmarks are known.
Priors inside a no-loss region learn nothing about objectness.
"""

import tensorflow as tf

CENTRE_RADIUS = 2.5
TOP_IOUS = 10
BOX_WEIGHT, KPS_WEIGHT = 5.0, 0.1


def decode_boxes(bbox: tf.Tensor, priors: tf.Tensor) -> tf.Tensor:
    """(B, N, 4) raw outputs -> (B, N, 4) x1 y1 x2 y2 pixels."""
    stride = priors[:, 2]
    cx = (priors[:, 0] + bbox[..., 0]) * stride
    cy = (priors[:, 1] + bbox[..., 1]) * stride
    w = tf.exp(tf.clip_by_value(bbox[..., 2], -8.0, 8.0)) * stride
    h = tf.exp(tf.clip_by_value(bbox[..., 3], -8.0, 8.0)) * stride
    return tf.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)


def pairwise_iou(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """IoU of (B, G, 4) boxes with (B, N, 4) boxes: (B, G, N)."""
    a, b = a[:, :, None, :], b[:, None, :, :]
    w = tf.nn.relu(tf.minimum(a[..., 2], b[..., 2]) - tf.maximum(a[..., 0], b[..., 0]))
    h = tf.nn.relu(tf.minimum(a[..., 3], b[..., 3]) - tf.maximum(a[..., 1], b[..., 1]))
    inter = w * h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / tf.maximum(area_a + area_b - inter, 1e-6)


def giou(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Generalised IoU of matching (..., 4) boxes."""
    w = tf.nn.relu(tf.minimum(a[..., 2], b[..., 2]) - tf.maximum(a[..., 0], b[..., 0]))
    h = tf.nn.relu(tf.minimum(a[..., 3], b[..., 3]) - tf.maximum(a[..., 1], b[..., 1]))
    inter = w * h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = tf.maximum(area_a + area_b - inter, 1e-6)
    hull_w = tf.maximum(a[..., 2], b[..., 2]) - tf.minimum(a[..., 0], b[..., 0])
    hull_h = tf.maximum(a[..., 3], b[..., 3]) - tf.minimum(a[..., 1], b[..., 1])
    hull = tf.maximum(hull_w * hull_h, 1e-6)
    return inter / union - (hull - union) / hull


def simota(
    priors: tf.Tensor,
    pred_boxes: tf.Tensor,
    pred_scores: tf.Tensor,
    gt_boxes: tf.Tensor,
    gt_valid: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Assigned priors (B, N) bool, their face's index (B, N) and IoU with it (B, N)."""
    px = (priors[:, 0] * priors[:, 2])[None, None, :]
    py = (priors[:, 1] * priors[:, 2])[None, None, :]
    radius = (CENTRE_RADIUS * priors[:, 2])[None, None, :]
    x1, y1, x2, y2 = (gt_boxes[..., i : i + 1] for i in range(4))
    in_box = (px > x1) & (px < x2) & (py > y1) & (py < y2)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    in_centre = (tf.abs(px - cx) < radius) & (tf.abs(py - cy) < radius)
    candidate = (in_box | in_centre) & gt_valid[..., None]

    ious = pairwise_iou(gt_boxes, pred_boxes)
    cls_cost = -tf.math.log(tf.maximum(pred_scores, 1e-8))[:, None, :]
    cost = cls_cost + 3.0 * -tf.math.log(ious + 1e-8)
    cost += 1e5 * tf.cast(~(in_box & in_centre), tf.float32)
    cost = tf.where(candidate, cost, 1e9)

    top_ious = tf.math.top_k(tf.where(candidate, ious, 0.0), TOP_IOUS).values
    dynamic_k = tf.maximum(tf.floor(tf.reduce_sum(top_ious, axis=-1)), 1.0)  # (B, G)
    cheapest = tf.math.top_k(-cost, TOP_IOUS)  # (B, G, 10)
    chosen = tf.range(TOP_IOUS, dtype=tf.float32)[None, None, :] < dynamic_k[..., None]
    chosen &= cheapest.values > -1e8  # never a non-candidate
    n = tf.shape(pred_boxes)[1]
    matching = tf.reduce_sum(
        tf.one_hot(cheapest.indices, n) * tf.cast(chosen, tf.float32)[..., None], axis=2
    )  # (B, G, N)
    assigned = matching > 0
    foreground = tf.reduce_any(assigned, axis=1)
    owner = tf.argmin(tf.where(assigned, cost, 1e10), axis=1, output_type=tf.int32)
    owner_iou = tf.gather(tf.transpose(ious, [0, 2, 1]), owner, axis=2, batch_dims=2)
    return foreground, owner, owner_iou


def in_any_box(priors: tf.Tensor, boxes: tf.Tensor, valid: tf.Tensor) -> tf.Tensor:
    """(B, N): the prior's point lies inside one of the valid (B, I, 4) boxes."""
    px = (priors[:, 0] * priors[:, 2])[None, None, :]
    py = (priors[:, 1] * priors[:, 2])[None, None, :]
    x1, y1, x2, y2 = (boxes[..., i : i + 1] for i in range(4))
    inside = (px >= x1) & (px <= x2) & (py >= y1) & (py <= y2) & valid[..., None]
    return tf.reduce_any(inside, axis=1)


def detector_loss(
    outputs: dict[str, tf.Tensor],
    priors: tf.Tensor,
    gt_boxes: tf.Tensor,
    gt_valid: tf.Tensor,
    gt_landmarks: tf.Tensor,
    ignore: tf.Tensor,
    ignore_valid: tf.Tensor,
    teacher_obj: tf.Tensor,
) -> dict[str, tf.Tensor]:
    """The four losses and their sum, on :func:`maskwatch.train.yunet_graph.concat_levels` outputs.

    ``teacher_obj`` (B, N) is the original detector's objectness probability on the same
    crops: the target of every prior no face is assigned to, in place of 0. Faces the
    annotators skipped, and everything else the original knew, are then kept rather than
    unlearned, while the annotated faces (the masked ones above all) get hard targets.
    """
    cls, obj = outputs["cls"][..., 0], outputs["obj"][..., 0]
    pred_boxes = decode_boxes(outputs["bbox"], priors)
    scores = tf.sqrt(tf.sigmoid(cls) * tf.sigmoid(obj))
    foreground, owner, owner_iou = simota(
        priors,
        tf.stop_gradient(pred_boxes),
        tf.stop_gradient(scores),
        gt_boxes,
        gt_valid,
    )
    owner_iou = tf.stop_gradient(owner_iou)
    fg = tf.cast(foreground, tf.float32)
    count = tf.maximum(tf.reduce_sum(fg), 1.0)

    obj_weight = 1.0 - tf.cast(in_any_box(priors, ignore, ignore_valid) & ~foreground, tf.float32)
    obj_target = tf.where(foreground, 1.0, tf.stop_gradient(teacher_obj))
    obj_loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=obj_target, logits=obj)
    cls_loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=owner_iou, logits=cls)

    target_boxes = tf.gather(gt_boxes, owner, batch_dims=1)
    box_loss = 1.0 - giou(pred_boxes, target_boxes)

    stride = priors[:, 2][None, :, None, None]
    grid = tf.stack([priors[:, 0], priors[:, 1]], axis=-1)[None, :, None, :]
    target_kps = tf.gather(gt_landmarks, owner, batch_dims=1) / stride - grid  # (B, N, 5, 2)
    known = tf.cast(tf.reduce_all(tf.math.is_finite(target_kps), axis=[2, 3]), tf.float32) * fg
    target_kps = tf.where(tf.math.is_finite(target_kps), target_kps, 0.0)
    error = tf.abs(tf.reshape(outputs["kps"], tf.shape(target_kps)) - target_kps)
    smooth = tf.where(error < 1.0, 0.5 * error**2, error - 0.5)
    kps_loss = tf.reduce_sum(smooth, axis=[2, 3])

    losses = {
        "obj": tf.reduce_sum(obj_loss * obj_weight) / count,
        "cls": tf.reduce_sum(cls_loss * fg) / count,
        "box": BOX_WEIGHT * tf.reduce_sum(box_loss * fg) / count,
        "kps": KPS_WEIGHT * tf.reduce_sum(kps_loss * known) / tf.maximum(tf.reduce_sum(known), 1.0),
    }
    losses["total"] = tf.add_n(list(losses.values()))
    losses["positives"] = tf.reduce_sum(fg)
    return losses
