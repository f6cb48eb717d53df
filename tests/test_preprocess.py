import numpy as np
import pytest

from maskwatch.core.preprocess import PreprocessSpec, crop_face, square_crop_box, to_input_batch


def test_square_crop_box_squares_and_adds_margin():
    # A 20x40 face in the middle of a big image: square of side 40 * 1.4 around its centre.
    assert square_crop_box((40, 30, 60, 70), 200, 200, margin=0.2) == (22, 22, 78, 78)


def test_square_crop_box_clamps_to_the_image():
    x1, y1, x2, y2 = square_crop_box((0, 0, 30, 30), 100, 50, margin=0.5)
    assert (x1, y1) == (0, 0)
    assert x2 <= 100 and y2 <= 50


@pytest.mark.parametrize("box", [(10, 10, 10, 20), (30, 10, 20, 20)])
def test_square_crop_box_refuses_empty_boxes(box):
    with pytest.raises(ValueError, match="empty face box"):
        square_crop_box(box, 100, 100, 0.2)


def test_square_crop_box_refuses_a_box_outside_the_image():
    with pytest.raises(ValueError, match="outside"):
        square_crop_box((200, 200, 220, 220), 100, 100, 0.0)


def test_crop_face_returns_rgb_at_input_size():
    image = np.zeros((120, 160, 3), np.uint8)
    image[:, :, 0] = 255  # pure blue in BGR
    face = crop_face(image, (40, 30, 80, 90), PreprocessSpec(input_size=32))
    assert face.shape == (32, 32, 3) and face.dtype == np.uint8
    assert (face[..., 2] == 255).all() and (face[..., :2] == 0).all()  # blue is last in RGB


def test_crop_face_keeps_bgr_when_asked():
    image = np.zeros((50, 50, 3), np.uint8)
    image[:, :, 0] = 255
    face = crop_face(image, (10, 10, 40, 40), PreprocessSpec(input_size=16, colour_order="BGR"))
    assert (face[..., 0] == 255).all()


def test_int8_quantization_is_exact_for_the_default_models_parameters():
    pixels = np.array([[[[0, 128, 255]]]], np.uint8)
    batch = to_input_batch(pixels, np.int8, scale=1.0, zero_point=-128)
    assert batch.dtype == np.int8
    assert batch.tolist() == [[[[-128, 0, 127]]]]


def test_quantization_clips_to_the_integer_range():
    batch = to_input_batch(np.full((2, 2, 3), 255, np.uint8), np.int8, scale=0.5, zero_point=0)
    assert batch.shape == (1, 2, 2, 3) and int(batch.max()) == 127


def test_float_input_is_pixels_as_float32():
    faces = [np.full((4, 4, 3), 7, np.uint8)] * 3
    batch = to_input_batch(faces, np.float32)
    assert batch.shape == (3, 4, 4, 3) and batch.dtype == np.float32 and batch.max() == 7.0


def test_quantized_input_needs_a_scale():
    with pytest.raises(ValueError, match="quantization scale"):
        to_input_batch(np.zeros((4, 4, 3), np.uint8), np.int8)


@pytest.mark.parametrize(
    "kwargs", [{"input_size": 4}, {"crop_margin": 2.0}, {"colour_order": "HSV"}]
)
def test_spec_refuses_nonsense(kwargs):
    with pytest.raises(ValueError):
        PreprocessSpec(**kwargs)


def test_mask_is_given_only_at_the_operating_point():
    from maskwatch.core.labels import CLASSIFIER_LABELS, decide_labels

    probabilities = np.array(
        [[0.70, 0.20, 0.10], [0.95, 0.04, 0.01], [0.45, 0.15, 0.40], [0.10, 0.85, 0.05]]
    )
    assert decide_labels(probabilities, CLASSIFIER_LABELS).tolist() == [0, 0, 0, 1]
    # Below 0.9 a face is not called masked: it gets the likelier of the other two.
    assert decide_labels(probabilities, CLASSIFIER_LABELS, 0.9).tolist() == [1, 0, 2, 1]
    assert decide_labels(np.zeros((0, 3)), CLASSIFIER_LABELS, 0.9).tolist() == []
