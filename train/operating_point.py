"""The alarm's view of the faces the detector found: the operating point and bare faces.

The operating point is :func:`maskwatch.core.labels.decide_labels`' ``mask_min_score`` t: a face is
called ``mask`` only at P(mask) >= t. Over t, the curve gives the share of matched bare
faces called ``mask`` (the alarm stays silent), of masked faces called ``mask`` (right),
and of masks worn wrongly that raise the alarm (called anything but ``mask``). Bare-face
accuracy is broken down by the detector's face width, by head pose from YuNet's five
landmarks, and by skin tone (the individual typology angle of the cheeks' pixels).
"""

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from maskwatch.core.images import read_image
from maskwatch.core.labels import MASK, MASK_INCORRECT, NO_MASK, decide_labels
from maskwatch.train.error_reports import write_sheet
from maskwatch.train.reports import save_figure
from maskwatch.train.skin import ITA_BINS, ita_bin, median_lab, patch, typology_angle
from maskwatch.vision.pipeline import Face

THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.0, 1.0, 0.01))
MAX_BARE_CALLED_MASK = 0.01  # the alarm's target: at most 1% of bare faces called mask
# Pose from the landmarks, in units of the eye distance along / across the eye line:
# the nose tip this far off the midline of eyes and mouth is a turned head, and this far
# down from the eyes (as a share of the eyes-to-mouth distance) a head looking down.
# Set from their spread over the faces found in external-macwin (offset: median 0.10,
# 75th percentile 0.25; depth: median 0.58, 95th percentile 0.67), not from a pose truth.
TURNED_MIN_OFFSET = 0.3
DOWN_MIN_NOSE_DEPTH = 0.66
POSES = ("frontal", "turned", "down", "unknown")
FACE_WIDTH_BINS = (("24-48", 48), ("48-96", 96), ("96+", None))  # the detector's box
SHEET_FACES = 40


def relabel(faces: list[Face], labels: Sequence[str], mask_min_score: float) -> list[Face]:
    """The faces labelled at the operating point (faces without probabilities unchanged)."""
    scored = [f for f in faces if f.probabilities]
    if not scored:
        return faces
    best = iter(decide_labels([f.probabilities for f in scored], labels, mask_min_score))
    out = []
    for face in faces:
        if face.probabilities:
            i = int(next(best))
            face = dataclasses.replace(face, label=labels[i], score=face.probabilities[i])
        out.append(face)
    return out


def mask_probabilities(faces: list[Face], labels: Sequence[str]) -> np.ndarray:
    return np.asarray([f.probabilities[list(labels).index(MASK)] for f in faces])


def _share(called_mask: np.ndarray) -> float | None:
    return round(float(called_mask.mean()), 4) if len(called_mask) else None


def curve(
    annotated: Sequence[str],
    faces: list[Face],
    labels: Sequence[str],
    thresholds: Sequence[float] = THRESHOLDS,
) -> list[dict]:
    """Per threshold t: bare faces called mask, masked faces right, wrongly worn masks that
    raise the alarm (shares of the matched faces of each annotated label)."""
    truth = np.asarray(annotated)
    probabilities = np.asarray([f.probabilities for f in faces]).reshape(len(faces), len(labels))
    rows = []
    for t in thresholds:
        called_mask = decide_labels(probabilities, labels, t) == list(labels).index(MASK)
        wrongly = called_mask[truth == MASK_INCORRECT]
        rows.append({
            "mask_min_score": float(t),
            "bare_called_mask": _share(called_mask[truth == NO_MASK]),
            "masked_right": _share(called_mask[truth == MASK]),
            "wrongly_worn_alarm": None if not len(wrongly) else round(1 - float(wrongly.mean()), 4),
        })  # fmt: skip
    return rows


def lowest_safe_threshold(
    curves: Sequence[list[dict]], most: float = MAX_BARE_CALLED_MASK
) -> float | None:
    """The lowest t at which every curve calls at most ``most`` of its bare faces masked
    (masked faces are right most often at the lowest such t); None if no t does."""
    for rows in zip(*curves, strict=True):
        if all(r["bare_called_mask"] is not None and r["bare_called_mask"] <= most for r in rows):
            return rows[0]["mask_min_score"]
    return None


def pose_of(landmarks: Sequence[tuple[float, float]]) -> str:
    """``frontal``, ``turned`` or ``down`` from YuNet's five points (right eye, left eye,
    nose tip, right and left mouth corner), measured along the eye line so a tilted head
    is not turned; ``unknown`` without landmarks."""
    if len(landmarks) != 5:
        return "unknown"
    right_eye, left_eye, nose, right_mouth, left_mouth = np.asarray(landmarks, float)
    across = left_eye - right_eye
    eye_distance = float(np.linalg.norm(across))
    if eye_distance < 1e-6:
        return "unknown"
    across /= eye_distance
    down = np.array([-across[1], across[0]])
    eyes, mouth = (right_eye + left_eye) / 2, (right_mouth + left_mouth) / 2
    midline = (eyes + mouth) / 2
    offset = abs(float((nose - midline) @ across)) / eye_distance
    if offset >= TURNED_MIN_OFFSET:
        return "turned"
    mouth_depth = float((mouth - eyes) @ down)
    if mouth_depth > 1e-6 and float((nose - eyes) @ down) / mouth_depth >= DOWN_MIN_NOSE_DEPTH:
        return "down"
    return "frontal"


def cheek_angle(image_bgr: np.ndarray, landmarks: Sequence[tuple[float, float]]) -> float | None:
    """ITA of the cheeks: the median Lab colour of two patches, each halfway between an
    eye and the mouth corner below it (a tenth of the eye distance across)."""
    if len(landmarks) != 5:
        return None
    right_eye, left_eye, _, right_mouth, left_mouth = np.asarray(landmarks, float)
    radius = 0.1 * float(np.linalg.norm(left_eye - right_eye))
    rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
    pixels = [
        patch(rgb, tuple((eye + mouth) / 2), radius)
        for eye, mouth in ((right_eye, right_mouth), (left_eye, left_mouth))
    ]
    pixels = np.concatenate(pixels)
    return typology_angle(median_lab(pixels)) if len(pixels) else None


def face_width_bin(face: Face) -> str | None:
    width = face.box[2] - face.box[0]
    return next((n for n, upper in FACE_WIDTH_BINS if upper is None or width < upper), None)


def _accuracy_table(groups: dict[str, list[bool]], order: Sequence[str]) -> dict:
    return {
        name: {"faces": len(groups[name]), "accuracy": round(float(np.mean(groups[name])), 4)}
        for name in order
        if groups.get(name)
    }


def bare_face_breakdown(bare: list[tuple[Path, Face]], labels: Sequence[str], t: float) -> dict:
    """Bare-face accuracy (not called mask at ``t``) by face width, pose and skin tone."""
    by = {"width": defaultdict(list), "pose": defaultdict(list), "skin_tone": defaultdict(list)}
    by_image: dict[Path, list[Face]] = defaultdict(list)
    for image, face in bare:
        by_image[image].append(face)
    for image, faces in sorted(by_image.items()):
        pixels = read_image(image)
        for face in relabel(faces, labels, t):
            right = face.label != MASK
            by["width"][face_width_bin(face)].append(right)
            by["pose"][pose_of(face.landmarks)].append(right)
            angle = cheek_angle(pixels, face.landmarks)
            by["skin_tone"]["unknown" if angle is None else ita_bin(angle)].append(right)
    return {
        "width": _accuracy_table(by["width"], [name for name, _ in FACE_WIDTH_BINS]),
        "pose": _accuracy_table(by["pose"], POSES),
        "skin_tone": _accuracy_table(by["skin_tone"], [*(n for n, _ in ITA_BINS), "unknown"]),
    }


def bare_called_mask_sheet(
    bare: list[tuple[Path, Face]], labels: Sequence[str], t: float, path: Path
) -> int:
    """A contact sheet of the most confident bare faces called mask at ``t`` (at most
    :data:`SHEET_FACES`), each cut at the detector's box with a margin; how many it shows."""
    p_mask = mask_probabilities([face for _, face in bare], labels)
    called = [i for i, (_, f) in enumerate(bare) if relabel([f], labels, t)[0].label == MASK]
    chosen = sorted(called, key=lambda i: -p_mask[i])[:SHEET_FACES]
    tiles, captions = [], []
    for i in chosen:
        image, face = bare[i]
        pixels = read_image(image)
        x1, y1, x2, y2 = face.box
        margin = (x2 - x1) // 4
        tiles.append(pixels[max(0, y1 - margin) : y2 + margin, max(0, x1 - margin) : x2 + margin])
        captions.append([f"P(mask) {p_mask[i]:.2f} {x2 - x1}px", image.stem[:22]])
    write_sheet(tiles, captions, path)
    return len(chosen)


def plot_curves(curves: dict[str, list[dict]], chosen: float, title: str, path: Path) -> None:
    """Masked faces right against bare faces called mask, one line per set over t; the
    chosen t and a few others marked."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for name, rows in curves.items():
        xs = [100 * r["bare_called_mask"] for r in rows]
        ys = [100 * r["masked_right"] for r in rows]
        (line,) = ax.plot(xs, ys, label=name)
        for r, x, y in zip(rows, xs, ys, strict=True):
            if r["mask_min_score"] in (0.5, 0.7, 0.8, 0.9, 0.95, chosen):
                marker = "o" if r["mask_min_score"] == chosen else "."
                ax.plot(x, y, marker, color=line.get_color())
                ax.annotate(f"{r['mask_min_score']:g}", (x, y), fontsize=7,
                            textcoords="offset points", xytext=(3, -9))  # fmt: skip
    ax.axvline(100 * MAX_BARE_CALLED_MASK, color="grey", ls=":")
    ax.axhline(98, color="grey", ls=":")
    ax.set(xlabel="bare faces called mask (%)", ylabel="masked faces right (%)",
           title=title)  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    save_figure(fig, path)
