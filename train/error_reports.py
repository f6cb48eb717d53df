"""Where the classifier goes wrong on the crop test split: accuracy by face width, and a
contact sheet of its most confident errors to look at by eye."""

from pathlib import Path

import cv2
import numpy as np

from maskwatch.core.labels import CLASSIFIER_LABELS
from maskwatch.train.reports import plot_bars

# Annotated face width bins, in pixels of the source photo; whole-image crops apart.
WIDTH_EDGES = ((0, 24), (24, 48), (48, 96), (96, None))
WHOLE_IMAGE = "whole image"
TILE = 128
SHEET_COLUMNS = 8


def width_name(width: int) -> str:
    if width == 0:
        return WHOLE_IMAGE
    low, high = next(edge for edge in WIDTH_EDGES if edge[1] is None or width < edge[1])
    return f"{low}+" if high is None else f"{low}-{high}"


def accuracy_by_width(y_true: np.ndarray, y_pred: np.ndarray, widths: np.ndarray) -> dict:
    """Faces and accuracy per annotated width bin (0 = a whole-image crop), per true label."""
    names = [width_name(int(w)) for w in widths]
    order = [f"{low}+" if high is None else f"{low}-{high}" for low, high in WIDTH_EDGES]
    table = {}
    for name in [*order, WHOLE_IMAGE]:
        inside = np.array([n == name for n in names])
        if not inside.any():
            continue
        row = {"faces": int(inside.sum()),
               "accuracy": round(float((y_true[inside] == y_pred[inside]).mean()), 4)}  # fmt: skip
        for index, label in enumerate(CLASSIFIER_LABELS):
            of_label = inside & (y_true == index)
            if of_label.any():
                row[label] = round(float((y_pred[of_label] == index).mean()), 4)
        table[name] = row
    return table


def plot_accuracy_by_width(table: dict, path: Path) -> None:
    plot_bars(
        {name: row["accuracy"] for name, row in table.items()},
        {name: f"{row['accuracy']:.3f}\n{row['faces']} faces" for name, row in table.items()},
        "crop test accuracy by annotated face width (px)",
        path,
    )


def worst_errors(y_true: np.ndarray, probabilities: np.ndarray, count: int = 32) -> np.ndarray:
    """Indices of the wrongly labelled faces, most confident first, at most ``count``."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y_true)
    confidence = probabilities[wrong, predicted[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")][:count]


def error_sheet(
    crops: np.ndarray, y_true: np.ndarray, probabilities: np.ndarray, path: Path, count: int = 32
) -> int:
    """A PNG of the ``count`` most confident errors: each tile says annotated -> predicted
    and the score. Returns how many errors it shows."""
    chosen = worst_errors(y_true, probabilities, count)
    tiles, captions = [], []
    for index in chosen:
        tiles.append(cv2.cvtColor(crops[index], cv2.COLOR_RGB2BGR))
        predicted = int(probabilities[index].argmax())
        captions.append([
            f"was {CLASSIFIER_LABELS[y_true[index]]}",
            f"{CLASSIFIER_LABELS[predicted]} {probabilities[index, predicted]:.2f}",
        ])  # fmt: skip
    write_sheet(tiles, captions, path)
    return len(chosen)


def write_sheet(images_bgr: list[np.ndarray], captions: list[list[str]], path: Path) -> None:
    """A PNG contact sheet: each BGR image scaled to a tile, two caption lines under it."""
    tiles = []
    for image, caption in zip(images_bgr, captions, strict=True):
        tile = cv2.resize(image, (TILE, TILE), interpolation=cv2.INTER_NEAREST)
        banner = np.full((30, TILE, 3), 255, np.uint8)
        for line, text in enumerate(caption[:2]):
            cv2.putText(banner, text, (3, 12 + 14 * line), cv2.FONT_HERSHEY_SIMPLEX, 0.38,
                        (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
        tiles.append(np.vstack([tile, banner]))
    blank = np.full((TILE + 30, TILE, 3), 255, np.uint8)
    tiles += [blank] * (-len(tiles) % SHEET_COLUMNS if tiles else SHEET_COLUMNS)
    rows = [np.hstack(tiles[i : i + SHEET_COLUMNS]) for i in range(0, len(tiles), SHEET_COLUMNS)]
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.vstack(rows)):
        raise OSError(f"{path}: cannot write the contact sheet")
