"""Do two ``maskwatch detect`` outputs agree? Same faces (IoU >= 0.9), same labels, scores
within 0.05. Prints one line per image and exits 1 on any disagreement."""

import json
import sys
from pathlib import Path

from maskwatch.core.matching import iou_matrix


def load(path: str) -> dict[str, list[dict]]:
    return {r["image"]: r["faces"] for r in map(json.loads, Path(path).read_text().splitlines())}


def main(reference: str, other: str) -> int:
    ref, got = load(reference), load(other)
    failures = 0
    for image, faces in ref.items():
        theirs = got.get(image, [])
        same = len(faces) == len(theirs)
        if same and faces:
            overlap = iou_matrix([f["box"] for f in faces], [f["box"] for f in theirs])
            order = overlap.argmax(axis=1)
            same = all(
                overlap[i, j] >= 0.9
                and faces[i]["label"] == theirs[j]["label"]
                and abs(faces[i]["score"] - theirs[j]["score"]) <= 0.05
                for i, j in enumerate(order)
            )
        labels = [f["label"] for f in theirs]
        print(f"{image}: {'same' if same else 'DIFFERENT'} ({len(theirs)} faces: {labels})")
        failures += not same
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
