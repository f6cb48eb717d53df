"""``make demo``: a local mosquitto, the daemon watching a door clip, the events as they arrive.

The clip is rendered from held-out test scenes (people the model was not trained on)
by the door renderer: three people walk past the door one after another, one wearing a
mask, one without, one with the mask under the nose. The daemon reads it as a camera's
video (``source.kind = "video"``) at the clip's own 15 frames a second, so the events
are those a camera at a door would give: one ``new`` per person, then ``end``. Stops by
itself.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from maskwatch.core.bundle import load_bundle
from maskwatch.core.labels import MASK, MASK_INCORRECT, NO_MASK
from workbench import door_scenes
from workbench.door_stage import build_stage, write_clip
from workbench.local_broker import Listener, LocalBroker

ROOT = Path(__file__).resolve().parent.parent
# Three people, one after another, faces 110-120 px wide (1.5-2 m from the camera).
WALKERS = (
    door_scenes.Walker(1.0, 4.0, 110, 0.35),
    door_scenes.Walker(7.0, 4.0, 120, 0.36, leftwards=True, pause=1.0),
    door_scenes.Walker(14.0, 4.0, 110, 0.35),
)
SECONDS = 19.5


def render(data_root: Path, folder: Path) -> Path:
    stage = build_stage(data_root, load_bundle(ROOT / "bundle"))
    people = stage.one_of_each((MASK, NO_MASK, MASK_INCORRECT))
    sequence = door_scenes.DoorSequence(stage.background, people, WALKERS, SECONDS, None)
    return write_clip(sequence, folder / "door.avi")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "datasets",
                        help="the datasets folder the clip's people come from")  # fmt: skip
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="maskwatch-demo-") as tmp, LocalBroker() as broker:
        clip = render(args.data_root, Path(tmp))
        print(f"mosquitto on 127.0.0.1:{broker.port}; the daemon watches {SECONDS:.0f} s of a "
              "door: a person with a mask, one without, one with it under the nose\n")  # fmt: skip
        listener = Listener(broker.port, "maskwatch/#", echo=True)
        settings = {"source.kind": '"video"', "source.path": str(clip),
                    "source.max_fps": str(door_scenes.FPS), "mqtt.port": str(broker.port),
                    "queue.path": str(Path(tmp) / "events.sqlite3")}  # fmt: skip
        overrides = [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]
        command = [sys.executable, "-m", "maskwatch", "run", "--config",
                   str(ROOT / "config" / "maskwatch.toml"), *overrides]  # fmt: skip
        daemon = subprocess.run(command, cwd=ROOT)
        listener.wait_for(lambda lst: any(p == b"offline" for _, p, _ in lst.messages), 5)
        listener.close()
    events = [json.loads(p) for t, p, _ in listener.messages if t.endswith("/events")]
    people = [e for e in events if e["type"] == "new"]
    counts = {
        label: sum(e["label"] == label for e in people) for label in (MASK, NO_MASK, MASK_INCORRECT)
    }
    print(
        f"\n{len(events)} events; {len(people)} people announced (3 walked past): "
        f"{counts[MASK]} masked, {counts[NO_MASK]} unmasked, "
        f"{counts[MASK_INCORRECT]} wearing a mask wrongly"
    )
    return daemon.returncode


if __name__ == "__main__":
    sys.exit(main())
