"""Faces whose annotated label the bundle disagrees with, on a numbered contact sheet.

``python -m scripts.label_check_sheet --out build/label_check`` runs the bundle over one
side of the saved split (test by default, with its checked fixes), and for every annotated
face the detector finds but labels otherwise writes a tile: the face and its surroundings
(three face widths), the box drawn, "#n annotated -> predicted score". The numbers map to
``sheet.txt`` (scene, annotated box), the form ``models/test_annotation_fixes.toml`` takes.

This is how candidate label corrections are found; each must then be judged by eye, and
only a plainly wrong label becomes a ``relabel`` fix (see :mod:`maskwatch.train.annotation_fixes`).
"""

import argparse
from pathlib import Path

import cv2
import numpy as np

from maskwatch.core.bundle import load_bundle
from maskwatch.core.errors import MaskwatchError
from maskwatch.core.images import read_image
from maskwatch.core.preprocess import square_crop_box
from maskwatch.train.annotation_fixes import apply_fixes, load_fixes
from maskwatch.train.data import DEFAULT_SOURCES, read_sources
from maskwatch.train.datasets import DatasetError
from maskwatch.train.evaluate import DEFAULT_FIXES, match_scene, predict_scenes, scene_samples
from maskwatch.train.split import apply_split
from maskwatch.vision.pipeline import MaskPipeline

TILE = 200
COLUMNS = 6


def _tile(image: np.ndarray, box: tuple, caption: str) -> np.ndarray:
    height, width = image.shape[:2]
    x1, y1, x2, y2 = square_crop_box(box, width, height, margin=1.0)
    view = image[y1:y2, x1:x2].copy()
    scale = TILE / max(view.shape[:2])
    view = cv2.resize(
        view, (max(1, round(view.shape[1] * scale)), max(1, round(view.shape[0] * scale)))
    )
    bx = [round((v - o) * scale) for v, o in zip(box, (x1, y1, x1, y1), strict=True)]
    cv2.rectangle(view, (bx[0], bx[1]), (bx[2], bx[3]), (0, 255, 255), 1)
    tile = np.full((TILE + 22, TILE, 3), 255, np.uint8)
    tile[: view.shape[0], : view.shape[1]] = view
    cv2.putText(tile, caption, (3, TILE + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1)
    return tile


def main(argv: list[str] | None = None) -> None:
    try:
        _main(argv)
    except (DatasetError, MaskwatchError, OSError) as error:
        raise SystemExit(f"label_check_sheet: error: {error}") from None


def _main(argv: list[str] | None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path("bundle"))
    parser.add_argument("--split", type=Path, default=Path("models/split.json"))
    parser.add_argument("--data-root", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--which", default="test", choices=("train", "val", "test"))
    parser.add_argument("--max-side", type=int, default=640)
    parser.add_argument("--out", type=Path, default=Path("build/label_check"))
    args = parser.parse_args(argv)

    by_image = scene_samples(
        apply_split(read_sources(args.data_root, DEFAULT_SOURCES), args.split)[args.which]
    )
    ignore = {}
    if args.which == "test":
        fixed = apply_fixes(by_image, load_fixes(DEFAULT_FIXES), DEFAULT_FIXES)
        by_image, ignore = fixed.faces, fixed.ignore
    pipeline = MaskPipeline(load_bundle(args.bundle), detector_max_side=args.max_side)
    predictions, _ = predict_scenes(pipeline, sorted(by_image))
    tiles, lines = [], []
    for path, annotated in sorted(by_image.items()):
        faces = predictions[path]
        scene = match_scene([f.box for f in faces], annotated, ignore.get(path, []))
        for g, p in scene.found.items():
            if p is None or faces[p].label == annotated[g].label:
                continue
            n = len(tiles) + 1
            face = annotated[g]
            caption = f"#{n} {face.label} -> {faces[p].label} {faces[p].score:.2f}"
            tiles.append(_tile(read_image(path), face.box, caption))
            lines.append(f"#{n}\t{face.scene}\t{list(face.box)}\t{face.label} -> {faces[p].label}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sheet.txt").write_text("\n".join(lines) + "\n")
    if tiles:
        blank = np.full_like(tiles[0], 255)
        rows = [
            np.hstack(tiles[i : i + COLUMNS] + [blank] * (COLUMNS - len(tiles[i : i + COLUMNS])))
            for i in range(0, len(tiles), COLUMNS)
        ]
        cv2.imwrite(str(args.out / "sheet.png"), np.vstack(rows))
    print(f"{len(tiles)} disagreements: {args.out / 'sheet.png'}, {args.out / 'sheet.txt'}")


if __name__ == "__main__":
    main()
