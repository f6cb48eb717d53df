"""The fine-tuned YuNet: same graph as the original, trainable in TensorFlow, exported exactly.

These run the real ONNX files through OpenCV (``cv2.dnn`` and ``cv2.FaceDetectorYN``) and
the TensorFlow rebuild on real scenes.
"""

import json

import cv2
import numpy as np
import onnx
import pytest
import tensorflow as tf

from maskwatch.core.bundle import load_bundle, sha256_file
from maskwatch.core.matching import iou_matrix
from maskwatch.core.preprocess import BoxConvention
from maskwatch.train.detector_data import CropSampler, SceneTargets, build_targets
from maskwatch.train.detector_loss import detector_loss, simota
from maskwatch.train.yunet_graph import STRIDES, YuNetGraph, concat_levels, prior_grid
from maskwatch.vision.detectors import MASKS_YUNET, ORIGINAL_YUNET, YUNET_MASKS_FILE
from tests.conftest import ROOT

MODELS = ROOT.parent / "shared" / "models"
BASE = MODELS / ORIGINAL_YUNET.file
FINE_TUNED = ROOT / "models" / YUNET_MASKS_FILE
OUTPUTS = [f"{h}_{s}" for h in ("cls", "obj", "bbox", "kps") for s in STRIDES]
SCENE = "scenes-voc/images/maksssksksss10.jpg"


def opencv_outputs(model, image):
    net = cv2.dnn.readNet(str(model))
    net.setInput(cv2.dnn.blobFromImage(image))
    return dict(zip(OUTPUTS, net.forward(OUTPUTS), strict=True))


def tf_outputs(graph, image):
    out = graph(tf.constant(image[None].astype(np.float32)))
    return {
        name: tf.sigmoid(v).numpy() if name.startswith(("cls", "obj")) else v.numpy()
        for name, v in out.items()
    }


@pytest.fixture(scope="module")
def scene(data_root):
    image = cv2.imread(str(data_root / SCENE))
    return cv2.resize(image, (320, 256))  # multiples of 32, as FaceDetectorYN pads


@pytest.mark.parametrize("model", [BASE, FINE_TUNED], ids=["original", "fine-tuned"])
def test_the_tensorflow_graph_gives_opencvs_outputs(model, scene):
    expected, found = opencv_outputs(model, scene), tf_outputs(YuNetGraph(model), scene)
    for name in OUTPUTS:
        np.testing.assert_allclose(found[name], expected[name], atol=1e-3, err_msg=name)


def test_changed_weights_are_written_back_into_the_same_graph(scene, tmp_path):
    graph = YuNetGraph(BASE)
    rng = np.random.default_rng(0)
    for variable in graph.trainable:
        variable.assign_add(rng.normal(0, 0.02, variable.shape).astype(np.float32))
    exported = tmp_path / "changed.onnx"
    graph.export(exported)
    before, after = opencv_outputs(BASE, scene), opencv_outputs(exported, scene)
    assert np.abs(after["bbox_8"] - before["bbox_8"]).max() > 1e-2  # the change is there
    found = tf_outputs(graph, scene)
    for name in OUTPUTS:
        np.testing.assert_allclose(found[name], after[name], atol=1e-3, err_msg=name)


def test_the_fine_tuned_file_is_the_original_graph_with_new_weights():
    original, tuned = onnx.load(str(BASE)), onnx.load(str(FINE_TUNED))
    assert tuned.opset_import == original.opset_import
    assert [n.SerializeToString() for n in tuned.graph.node] == [
        n.SerializeToString() for n in original.graph.node
    ]  # same ops, same shapes of computation: the same multiply-accumulates per frame
    assert tuned.graph.input == original.graph.input and tuned.graph.output == original.graph.output
    shapes = {t.name: tuple(t.dims) for t in original.graph.initializer}
    assert {t.name: tuple(t.dims) for t in tuned.graph.initializer} == shapes
    changed = [
        a.name
        for a, b in zip(original.graph.initializer, tuned.graph.initializer, strict=True)
        if a.raw_data != b.raw_data
    ]
    assert len(changed) > 50  # trained, not copied


def test_the_fine_tuned_file_matches_its_provenance():
    provenance = json.loads(FINE_TUNED.with_suffix(".json").read_text())
    assert provenance["sha256"] == sha256_file(FINE_TUNED)
    assert provenance["base"]["sha256"] == sha256_file(BASE)
    assert provenance["training_data"]["painted_masked_faces"] > 100
    assert provenance["source_commit"]


def test_face_detector_yn_loads_it_and_finds_the_masked_face(data_root):
    image = cv2.imread(str(data_root / SCENE))
    net = cv2.FaceDetectorYN.create(
        str(FINE_TUNED), "", (image.shape[1], image.shape[0]), MASKS_YUNET.score_threshold
    )
    _, faces = net.detect(image)
    assert faces is not None and len(faces) == 1
    assert faces[0, 14] >= MASKS_YUNET.score_threshold


def test_simota_assigns_priors_inside_a_face_at_a_fitting_stride():
    priors = tf.constant(prior_grid(128, 128))
    face = np.array([[[40.0, 40.0, 88.0, 96.0]]], np.float32)  # 48 x 56 px
    centres = priors[:, :2] * priors[:, 2:]
    # Predictions: every prior proposes a box of its stride's size around its point.
    size = priors[:, 2:] * 4
    boxes = tf.concat([centres - size / 2, centres + size / 2], axis=1)[None]
    foreground, owner, iou = simota(
        priors, boxes, tf.fill([1, priors.shape[0]], 0.5), face, tf.constant([[True]])
    )
    chosen = np.flatnonzero(foreground.numpy()[0])
    assert 1 <= len(chosen) <= 10
    points = centres.numpy()[chosen]
    assert np.all((points >= 40) & (points <= 96))
    assert set(priors.numpy()[chosen, 2]) <= {8.0, 16.0}  # 32 px boxes and 64 px boxes fit
    assert np.all(owner.numpy()[0, chosen] == 0) and np.all(iou.numpy()[0, chosen] > 0.3)


def test_a_few_steps_on_real_scenes_lower_the_loss(data_root, tmp_path):
    image = data_root / SCENE
    from maskwatch.train.datasets import read_voc_scenes

    faces = [f for f in read_voc_scenes(data_root / "scenes-voc") if f.image == image]
    scenes, convention = build_targets({image: faces}, BASE, tmp_path, painter=None, log=False)
    assert isinstance(convention, BoxConvention) and len(scenes[0].boxes) == len(faces)
    assert np.isfinite(scenes[0].landmarks).all()  # YuNet found the face: its landmarks
    batch = CropSampler(scenes, 256, min_side=256, max_side=400, seed=1).sample(4)
    graph = YuNetGraph(BASE)
    priors = tf.constant(prior_grid(256, 256))
    optimizer = tf.keras.optimizers.Adam(1e-3)

    teacher_obj = tf.sigmoid(concat_levels(YuNetGraph(BASE)(batch.images))["obj"][..., 0])

    def loss():
        out = concat_levels(graph(batch.images))
        return detector_loss(
            out, priors, batch.boxes, batch.box_valid, batch.landmarks,
            batch.ignore, batch.ignore_valid, teacher_obj,
        )["total"]  # fmt: skip

    first = float(loss())
    for _ in range(8):
        with tf.GradientTape() as tape:
            value = loss()
        gradients = tape.gradient(value, graph.trainable)
        optimizer.apply_gradients(zip(gradients, graph.trainable, strict=True))
    assert float(loss()) < 0.8 * first


def test_the_box_convention_fit_recovers_a_known_shift():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 500, (50, 2))
    wh = rng.uniform(20, 100, (50, 2))
    yunet = np.concatenate([xy, xy + wh], axis=1)
    truth = BoxConvention(dx=0.02, dy=0.1, scale_w=1.05, scale_h=0.9)
    fitted = BoxConvention.fit(yunet, truth.apply(yunet))
    np.testing.assert_allclose(list(fitted.__dict__.values()), list(truth.__dict__.values()), 1e-6)
    np.testing.assert_allclose(truth.inverse().apply(truth.apply(yunet)), yunet, atol=1e-9)


def test_the_bundle_crops_faces_where_the_classifiers_training_crops_were(bundle_dir):
    """The fine-tuned detector draws the annotators' boxes; the classifier learned on crops
    around the original YuNet's, so the manifest carries the map back and the pipeline uses it."""
    from maskwatch.vision.pipeline import MaskPipeline

    manifest = load_bundle(bundle_dir).manifest
    provenance = json.loads(FINE_TUNED.with_suffix(".json").read_text())
    back = BoxConvention(**provenance["training_data"]["box_convention"]).inverse()
    assert manifest.detector.crop_convention == pytest.approx(tuple(back.__dict__.values()))
    pipeline = MaskPipeline(load_bundle(bundle_dir))
    box = (100, 100, 160, 170)
    assert pipeline._crop_box(box, 640, 480) == back.map_box(box, 640, 480)
    x1, y1, x2, y2 = back.map_box(box, 640, 480)
    assert y1 < 100 and y2 < 170  # the original YuNet's box sits higher on the face


def test_flipped_crops_keep_landmarks_on_the_right_side():
    image = np.zeros((256, 256, 3), np.uint8)
    path = ROOT / "build" / "flip-test.png"
    path.parent.mkdir(exist_ok=True)
    cv2.imwrite(str(path), image)
    right_eye, left_eye = (100.0, 100.0), (140.0, 100.0)
    landmarks = np.array([[right_eye, left_eye, (120, 120), (105, 140), (135, 140)]], np.float32)
    scene = SceneTargets(
        path, np.array([[90, 80, 150, 160]], np.float32), landmarks, np.zeros((0, 4))
    )
    sampler = CropSampler([scene], 256, min_side=256, max_side=256, seed=0)
    for _ in range(8):
        batch = sampler.sample(1)
        eyes = batch.landmarks[0, 0, :2, 0]
        assert eyes[0] < eyes[1]  # the image's left eye point stays left of the other


def test_the_default_bundle_carries_the_fine_tuned_detector(bundle_dir):
    manifest = load_bundle(bundle_dir).manifest
    assert manifest.detector.file == YUNET_MASKS_FILE
    assert manifest.files[YUNET_MASKS_FILE] == sha256_file(FINE_TUNED)
    assert manifest.detector_provenance["base"]["sha256"] == sha256_file(BASE)


GOLDEN = ROOT / "tests" / "golden_detections.json"


def bundle_detections(bundle_dir, data_root):
    """The default bundle's detector on the golden scenes, as the daemon runs it."""
    from maskwatch.vision.detectors import create_detector

    manifest = load_bundle(bundle_dir).manifest
    detector = create_detector(manifest.detector, bundle_dir)
    golden = json.loads(GOLDEN.read_text())
    return golden, {
        name: [d.box for d in detector.detect(cv2.imread(str(data_root / name)))]
        for name in golden["scenes"]
    }


def test_the_golden_scenes_keep_their_detections(bundle_dir, data_root):
    golden, found = bundle_detections(bundle_dir, data_root)
    assert golden["detector_sha256"] == sha256_file(FINE_TUNED), "regenerate the golden file"
    for name, expected in golden["scenes"].items():
        assert len(found[name]) == len(expected), name
        if expected:
            ious = iou_matrix(found[name], expected)
            assert ious.max(axis=0).min() > 0.9, name


def test_a_fine_tuned_file_that_differs_from_its_provenance_is_refused(tmp_path):
    from maskwatch.convert.detector_files import FetchError, obtain_detector

    folder = tmp_path / "models"
    folder.mkdir()
    data = bytearray(FINE_TUNED.read_bytes())
    data[-1] ^= 1
    (folder / YUNET_MASKS_FILE).write_bytes(bytes(data))
    (folder / YUNET_MASKS_FILE).with_suffix(".json").write_bytes(
        FINE_TUNED.with_suffix(".json").read_bytes()
    )
    with pytest.raises(FetchError, match="differs from face_detection_yunet_masks.json"):
        obtain_detector(YUNET_MASKS_FILE, None, tmp_path / "bundle", fine_tuned_dir=folder)
    (folder / YUNET_MASKS_FILE).with_suffix(".json").write_text("{not json")
    with pytest.raises(FetchError, match="face_detection_yunet_masks.json: not valid JSON"):
        obtain_detector(YUNET_MASKS_FILE, None, tmp_path / "bundle", fine_tuned_dir=folder)
    names, provenance = obtain_detector(YUNET_MASKS_FILE, None, tmp_path / "bundle")
    assert names == [YUNET_MASKS_FILE] and provenance["sha256"] == sha256_file(FINE_TUNED)


def test_the_smallest_training_scale_is_a_setting_and_checked(capsys):
    from maskwatch.train.detector_train import parse_args

    _, settings = parse_args([])
    assert settings.min_side == 288  # the shipped file's recipe
    _, settings = parse_args(["--min-side", "200"])
    assert settings.min_side == 200
    with pytest.raises(SystemExit):
        parse_args(["--min-side", "2000"])
    assert "--min-side must be from 64 up to 1100 px" in capsys.readouterr().err


def test_the_weight_average_is_a_setting_checked_and_moves_toward_the_weights(capsys):
    import tensorflow as tf

    from maskwatch.train.detector_train import move_average, parse_args

    assert parse_args([])[1].ema_decay == 0.0  # the shipped file's recipe: the last weights
    assert parse_args(["--ema-decay", "0.995"])[1].ema_decay == 0.995
    with pytest.raises(SystemExit):
        parse_args(["--ema-decay", "1"])
    assert "--ema-decay must be from 0 (off) up to, not including, 1" in capsys.readouterr().err

    averages, weights = [tf.Variable([0.0, 10.0])], [tf.Variable([1.0, 0.0])]
    move_average(averages, weights, 0.9)
    assert averages[0].numpy() == pytest.approx([0.1, 9.0])
    assert weights[0].numpy() == pytest.approx([1.0, 0.0])  # the trained weights stay
