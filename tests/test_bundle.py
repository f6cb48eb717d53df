import json
import random
import shutil

import pytest

from maskwatch.core.bundle import MANIFEST_FILE, load_bundle, sha256_file
from maskwatch.core.errors import EXIT_CONFIG, BundleError
from maskwatch.vision.pipeline import MaskPipeline
from tests.conftest import ROOT, error_lines, maskwatch


@pytest.fixture
def bundle_copy(bundle_dir, tmp_path):
    return shutil.copytree(bundle_dir, tmp_path / "bundle")


def edit_manifest(root, change, refresh=()):
    """Apply ``change`` to the manifest dict; re-checksum the files named in ``refresh``."""
    path = root / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    change(manifest)
    for name in refresh:
        manifest["files"][name] = sha256_file(root / name)
    path.write_text(json.dumps(manifest))


def classifier_file(root):
    return json.loads((root / MANIFEST_FILE).read_text())["classifier"]["file"]


def test_the_default_bundle_verifies(bundle_dir):
    bundle = load_bundle(bundle_dir)
    assert bundle.manifest.classifier.labels == ("mask", "no_mask", "mask_incorrect")
    assert set(bundle.manifest.files) == {
        bundle.manifest.classifier.file,
        bundle.manifest.detector.file,
        "labels",
    }
    result = maskwatch("bundle", "verify", str(bundle_dir))
    assert result.returncode == 0, result.stderr
    assert "bundle ok" in result.stdout


def test_a_corrupted_classifier_is_refused_with_one_line(bundle_copy):
    model = bundle_copy / classifier_file(bundle_copy)
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="sha256 .* does not match the manifest"):
        load_bundle(bundle_copy)
    result = maskwatch("bundle", "verify", str(bundle_copy))
    assert result.returncode == EXIT_CONFIG
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and model.name in lines[0] and "make bundle" in lines[0]


def test_a_missing_file_is_refused(bundle_copy):
    (bundle_copy / classifier_file(bundle_copy)).unlink()
    with pytest.raises(BundleError, match="missing from the bundle"):
        load_bundle(bundle_copy)


def test_a_missing_manifest_is_refused(tmp_path):
    with pytest.raises(BundleError, match="no bundle manifest"):
        load_bundle(tmp_path)


def test_a_manifest_that_is_not_json_is_refused(bundle_copy):
    (bundle_copy / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(bundle_copy)


def test_an_unknown_format_version_is_refused(bundle_copy):
    edit_manifest(bundle_copy, lambda m: m.update(format_version=99))
    with pytest.raises(BundleError, match="format version 99"):
        load_bundle(bundle_copy)


def test_a_file_without_checksum_is_refused(bundle_copy):
    name = classifier_file(bundle_copy)
    edit_manifest(bundle_copy, lambda m: m["files"].pop(name))
    with pytest.raises(BundleError, match=f"no checksum for {name}"):
        load_bundle(bundle_copy)


def test_a_model_that_does_not_match_the_manifest_is_refused(bundle_copy):
    edit_manifest(bundle_copy, lambda m: m["classifier"].update(input_size=48))
    pattern = r"does not match the manifest: input shape \(\d+, \d+, 3\)"
    with pytest.raises(BundleError, match=pattern):
        MaskPipeline.from_bundle_dir(bundle_copy)
    result = maskwatch("bundle", "verify", str(bundle_copy))
    assert result.returncode == EXIT_CONFIG
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and "does not match the manifest" in lines[0]


def test_a_truncated_model_is_refused_even_with_a_matching_checksum(bundle_copy):
    name = classifier_file(bundle_copy)
    model = bundle_copy / name
    model.write_bytes(model.read_bytes()[:4000])
    edit_manifest(bundle_copy, lambda m: None, refresh=[name])
    with pytest.raises(BundleError, match="not a loadable TFLite model"):
        MaskPipeline.from_bundle_dir(bundle_copy)


def test_an_unknown_detector_kind_is_refused(bundle_copy):
    edit_manifest(bundle_copy, lambda m: m["detector"].update(kind="haar"))
    with pytest.raises(BundleError, match="unknown detector kind 'haar'"):
        MaskPipeline.from_bundle_dir(bundle_copy)


def test_the_bundle_as_one_archive_verifies_and_runs(bundle_copy, tmp_path):
    from maskwatch.convert.bundle import pack

    archive = pack(bundle_copy, tmp_path / "bundle.tar.gz")
    assert load_bundle(archive).manifest == load_bundle(bundle_copy).manifest
    labels = MaskPipeline.from_bundle_dir(archive).classifier.info.labels
    assert labels == ("mask", "no_mask", "mask_incorrect")
    result = maskwatch("bundle", "verify", str(archive))
    assert result.returncode == 0, result.stderr


def test_a_truncated_archive_is_refused(bundle_copy, tmp_path):
    from maskwatch.convert.bundle import pack

    archive = pack(bundle_copy, tmp_path / "bundle.tar.gz")
    archive.write_bytes(archive.read_bytes()[:2000])
    with pytest.raises(BundleError, match="bundle.tar.gz: not a readable .tar.gz bundle"):
        load_bundle(archive)


def test_labels_that_differ_from_the_manifest_are_refused(bundle_copy):
    (bundle_copy / "labels").write_text("no_mask\nmask\n")
    edit_manifest(bundle_copy, lambda m: None, refresh=["labels"])
    with pytest.raises(BundleError, match="labels .* differ from the manifest"):
        load_bundle(bundle_copy)


def test_the_default_manifest_records_training_data_and_figures(bundle_dir):
    manifest = load_bundle(bundle_dir).manifest
    metrics = json.loads((ROOT / "models" / "metrics.json").read_text())
    scene = json.loads((ROOT / "reports" / "scene_evaluation.json").read_text())
    assert manifest.training_data["sources"] == metrics["sources"]
    assert manifest.training_data["faces"] == metrics["faces"]
    assert manifest.evaluation["scene_test_f1"] == {
        label: figures["f1"] for label, figures in scene["per_label"].items()
    }
    assert manifest.source_commit and manifest.created


def garble(path, offsets, value=0xFF):
    """Overwrite bytes of a file as a failing card does."""
    data = bytearray(path.read_bytes())
    for offset in offsets:
        data[offset] = value
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda root: garble(root / MANIFEST_FILE, (40, 41)), "not UTF-8 text (byte 40)"),
        (lambda root: edit_manifest(root, lambda m: m.update(files=sorted(m["files"]))),
         "files must be an object, found list"),
        (lambda root: edit_manifest(root, lambda m: m.update(evaluation=[1])),
         "evaluation must be an object, found list"),
        (lambda root: edit_manifest(root, lambda m: m["classifier"].update(labels="mask")),
         "classifier.labels must be a list of strings"),
        (lambda root: edit_manifest(root, lambda m: m["files"].update({"labels": 7})),
         "files.labels must be a sha256 string"),
    ],
)  # fmt: skip
def test_a_garbled_manifest_is_one_line_and_exit_78(bundle_copy, tmp_path, damage, message):
    damage(bundle_copy)
    for command in (("bundle", "verify", str(bundle_copy)),
                    ("run", "--config", str(ROOT / "config/maskwatch.toml"),
                     "--set", f"bundle.path={bundle_copy}",
                     "--set", f"queue.path={tmp_path / 'q.sqlite3'}")):  # fmt: skip
        result = maskwatch(*command)
        assert result.returncode == EXIT_CONFIG, result.stderr
        assert "Traceback" not in result.stderr, result.stderr
        lines = error_lines(result.stderr)
        assert len(lines) == 1 and message in lines[0], result.stderr


def test_any_two_garbled_bytes_of_the_manifest_give_a_bundle_error(bundle_copy):
    """Two bytes overwritten anywhere (200 seeded tries): refused with one line, or, where
    they hit nothing that matters (a date, a figure), loaded; never another exception."""
    manifest = bundle_copy / MANIFEST_FILE
    original = manifest.read_bytes()
    rng = random.Random(23)
    for _ in range(200):
        manifest.write_bytes(original)
        garble(manifest, rng.sample(range(len(original)), 2), rng.randrange(256))
        try:
            load_bundle(bundle_copy)
        except BundleError as error:
            assert "\n" not in str(error)
