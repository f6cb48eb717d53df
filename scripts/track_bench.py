"""The hard sequences (``workbench.hard_sequences``) through the daemon's frame loop, with
re-linking by clothes (today's default) and without it (``tracking.return_within = 0``,
as before): ``python -m scripts.track_bench``. Prints the tables of docs/tracking.md."""

import argparse
from pathlib import Path

import cv2

from maskwatch.core.bundle import load_bundle
from maskwatch.core.config import load_config
from maskwatch.vision.pipeline import MaskPipeline
from workbench import hard_sequences, track_bench
from workbench.door_stage import build_stage

ROOT = Path(__file__).resolve().parent.parent
CONFIGURATIONS = {"re-linking (default)": [], "without (return_within = 0)":
                  ["tracking.return_within=0"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "datasets",
                        help="the datasets folder the people come from")  # fmt: skip
    parser.add_argument("--only", nargs="*", help="run only these sequences")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    bundle = load_bundle(ROOT / "bundle")
    sequences = hard_sequences.build(build_stage(args.data_root, bundle))
    sequences = [s for s in sequences if not args.only or s.name in args.only]
    for title, overrides in CONFIGURATIONS.items():
        config = load_config(ROOT / "config" / "maskwatch.toml",
                             [*overrides, "pipeline.threads=1"], {})  # fmt: skip
        pipeline = MaskPipeline.from_config(bundle, config.pipeline)
        print(f"\n### {title}\n\n{track_bench.HEADER}")
        for hard in sequences:
            print(track_bench.row(hard.name, track_bench.run(hard.sequence, config, pipeline)),
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
