"""How the face detector's settings move scene F1: ``python -m maskwatch.convert.detector_sweep``.

Runs the whole bundle over the held-out scenes once per detector setting (input scale,
score threshold) and prints a Markdown table of scene F1, detection recall per class
and time per photo, so the choice of setting rests on numbers.
"""

import argparse
import dataclasses
import json
from pathlib import Path

from maskwatch.core.bundle import Bundle, load_bundle
from maskwatch.train.data import read_sources
from maskwatch.train.evaluate import evaluate_scenes, scene_samples
from maskwatch.train.split import apply_split
from maskwatch.vision.pipeline import MaskPipeline

# (max_side, min_side, score_threshold)
SETTINGS = (
    (320, 0, 0.6),
    (640, 0, 0.6),
    (640, 0, 0.5),
    (640, 0, 0.4),
    (640, 0, 0.3),
    (1280, 0, 0.6),
    (1280, 0, 0.4),
    (640, 640, 0.6),
    (640, 640, 0.4),
    (960, 960, 0.4),
)


def with_detector(bundle: Bundle, max_side: int, min_side: int, score: float) -> Bundle:
    detector = dataclasses.replace(
        bundle.manifest.detector, max_side=max_side, min_side=min_side, score_threshold=score
    )
    return Bundle(bundle.root, dataclasses.replace(bundle.manifest, detector=detector))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path("bundle"))
    parser.add_argument("--metrics", type=Path, default=Path("models/metrics.json"))
    parser.add_argument("--split", type=Path, default=Path("models/split.json"))
    parser.add_argument("--data-root", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--out", type=Path, help="write the table here too")
    args = parser.parse_args(argv)

    sources = json.loads(args.metrics.read_text())["sources"]
    by_image = scene_samples(apply_split(read_sources(args.data_root, sources), args.split)["test"])
    bundle = load_bundle(args.bundle)
    lines = [
        "| max side | min side | score | F1 mask | F1 no_mask | detection recall mask "
        "| detection recall no_mask | ms / photo |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for max_side, min_side, score in SETTINGS:
        pipeline = MaskPipeline(with_detector(bundle, max_side, min_side, score))
        summary = evaluate_scenes(pipeline, by_image)
        f1 = {k: v["f1"] for k, v in summary["per_label"].items()}
        recall = {k: v["recall"] for k, v in summary["detection_recall"].items()}
        lines.append(
            f"| {max_side} | {min_side or '-'} | {score} | {f1['mask']:.3f} | {f1['no_mask']:.3f} "
            f"| {recall['mask']:.3f} | {recall['no_mask']:.3f} "
            f"| {summary['seconds_per_image'] * 1000:.0f} |"
        )
        print(lines[-1], flush=True)
    table = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(table)


if __name__ == "__main__":
    main()
