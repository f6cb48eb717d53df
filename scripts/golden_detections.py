"""Write tests/golden_detections.json: the default bundle's detections on a few test scenes.

Run after a new fine-tuned detector lands (``python -m scripts.golden_detections``); the test
``test_the_golden_scenes_keep_their_detections`` then guards them against silent changes.
"""

import argparse
import json
from pathlib import Path

import cv2

from maskwatch.core.bundle import load_bundle, sha256_file
from maskwatch.train.data import DEFAULT_SOURCES, read_sources
from maskwatch.train.evaluate import scene_samples
from maskwatch.train.split import apply_split
from maskwatch.vision.detectors import YUNET_MASKS_FILE, create_detector

SCENES = 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--bundle", type=Path, default=Path("bundle"))
    parser.add_argument("--out", type=Path, default=Path("tests/golden_detections.json"))
    args = parser.parse_args()
    bundle = load_bundle(args.bundle)
    detector = create_detector(bundle.manifest.detector, bundle.root)
    samples = read_sources(args.data_root, DEFAULT_SOURCES)
    photos = sorted(scene_samples(apply_split(samples, Path("models/split.json"))["test"]))
    chosen = photos[:: max(1, len(photos) // SCENES)][:SCENES]
    names = [str(path.relative_to(args.data_root)) for path in chosen]
    scenes = {
        name: [list(d.box) for d in detector.detect(cv2.imread(str(args.data_root / name)))]
        for name in names
    }
    digest = sha256_file(Path("models") / YUNET_MASKS_FILE)
    lines = ",\n".join(f"  {json.dumps(name)}: {json.dumps(box)}" for name, box in scenes.items())
    args.out.write_text(f'{{"detector_sha256": "{digest}",\n "scenes": {{\n{lines}\n}}}}\n')
    print(f"{args.out}: {sum(map(len, scenes.values()))} faces in {len(scenes)} scenes")


if __name__ == "__main__":
    main()
