"""``make demo``: a local mosquitto, the daemon over sample scenes, the events as they arrive.

The sample is taken from the held-out test scenes of the saved split, so the demo
shows the model on photos it was not trained on. Stops by itself.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.local_broker import Listener, LocalBroker  # noqa: E402
from train.split import load_split_scenes  # noqa: E402


def sample_images(data_root: Path, count: int) -> list[Path]:
    """The first ``count`` test-split scenes of scenes-voc."""
    scenes = sorted(load_split_scenes(ROOT / "models" / "split.json")["test"])
    images = data_root / "scenes-voc" / "images"
    picked = [images / f"{s.split('/', 1)[1]}.jpg" for s in scenes if s.startswith("scenes-voc/")]
    picked = [p for p in picked if p.is_file()][:count]
    if not picked:
        raise SystemExit(f"no test-split scenes under {images}; pass --data-root DIR")
    return picked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--frames-per-photo", type=int, default=4)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="maskwatch-demo-") as tmp, LocalBroker() as broker:
        frames = Path(tmp)
        for image in sample_images(args.data_root, args.images):
            for k in range(args.frames_per_photo):  # a fixed camera watching each scene
                (frames / f"{image.stem}_{k}.jpg").symlink_to(image.resolve())
        print(f"mosquitto on 127.0.0.1:{broker.port}; daemon over {args.images} test scenes\n")
        listener = Listener(broker.port, "maskwatch/#", echo=True)
        daemon = subprocess.run(
            [
                sys.executable,
                "-m",
                "edge.cli",
                "run",
                "--config",
                str(ROOT / "config" / "maskwatch.toml"),
                "--set",
                f"mqtt.port={broker.port}",
                "--set",
                f"source.path={frames}",
                "--set",
                f"source.interval={args.interval}",
                "--set",
                f"queue.path={frames / 'events.sqlite3'}",
            ],
            cwd=ROOT,
        )
        listener.wait_for(lambda lst: any(p == b"offline" for _, p, _ in lst.messages), 5)
        listener.close()
    events = [json.loads(p) for t, p, _ in listener.messages if t.endswith("/events")]
    people = [e for e in events if e["type"] == "new"]
    labels = ("mask", "no_mask", "mask_incorrect")
    counts = {label: sum(e["label"] == label for e in people) for label in labels}
    print(
        f"\n{len(events)} events; {len(people)} people: {counts['mask']} masked, "
        f"{counts['no_mask']} unmasked, {counts['mask_incorrect']} wearing a mask wrongly"
    )
    return daemon.returncode


if __name__ == "__main__":
    sys.exit(main())
