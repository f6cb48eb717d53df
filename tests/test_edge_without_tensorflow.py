"""``edge`` is what runs on the Pi: it must import and work with TensorFlow absent."""

import ast
import json
import subprocess
import sys

from tests.conftest import ROOT

FORBIDDEN = {"tensorflow", "keras", "tf_keras", "train", "convert", "scripts"}

BLOCK_AND_RUN = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in {'tensorflow', 'keras', 'tf_keras'}:
            raise ImportError(f'{name} is not installed on this device')
sys.meta_path.insert(0, Block())
from maskwatch.service.cli import main
code = main(sys.argv[1:])
heavy = {'tensorflow', 'keras', 'train', 'convert'}
loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy)
assert not loaded, loaded
sys.exit(code)
"""


def test_edge_sources_import_neither_tensorflow_nor_training_code():
    for path in sorted((ROOT / "edge").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path}: imports {name}"


def test_detect_runs_with_tensorflow_unavailable(data_root, bundle_dir, tmp_path):
    out = tmp_path / "faces.jsonl"
    image = data_root / "scenes-voc" / "images" / "maksssksksss10.jpg"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            BLOCK_AND_RUN,
            "detect",
            "--bundle",
            str(bundle_dir),
            "--json",
            str(out),
            str(image),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(out.read_text())
    assert record["faces"] and record["faces"][0]["label"] == "mask"
