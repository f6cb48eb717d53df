"""Reports a person opens: PNG plots, a JSON of every figure, a short Markdown summary.

The positive class of the ROC and PR curves is ``no_mask``: the alarm maskwatch raises.
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from maskwatch.core.labels import CLASSIFIER_LABELS, NO_MASK  # noqa: E402
from maskwatch.train.metrics import classification_report  # noqa: E402

POSITIVE = CLASSIFIER_LABELS.index(NO_MASK)


def roc_pr(y_true: np.ndarray, score: np.ndarray) -> dict:
    """ROC (fpr, tpr, AUC) and PR (precision, recall, average precision) for ``score``."""
    order = np.argsort(-score, kind="stable")
    positive = (np.asarray(y_true)[order] == POSITIVE).astype(float)
    tp, fp = np.cumsum(positive), np.cumsum(1 - positive)
    n_pos, n_neg = max(positive.sum(), 1), max((1 - positive).sum(), 1)
    tpr, fpr = np.concatenate([[0], tp / n_pos]), np.concatenate([[0], fp / n_neg])
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / n_pos
    return {
        "roc_auc": round(float(np.trapezoid(tpr, fpr)), 4),
        "average_precision": round(
            float(np.sum(np.diff(np.concatenate([[0], recall])) * precision)), 4
        ),
        "fpr": fpr,
        "tpr": tpr,
        "precision": precision,
        "recall": recall,
    }


def save_figure(fig: plt.Figure, path: Path) -> None:
    """Lay the figure out, write it as a PNG (making its folder) and close it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_confusion(confusion: list[list[int]], title: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(4, 3.6))
    fig.set_size_inches(1.4 * len(CLASSIFIER_LABELS) + 1, 1.2 * len(CLASSIFIER_LABELS) + 1)
    ax.imshow(confusion, cmap="Blues")
    for (i, j), value in np.ndenumerate(np.asarray(confusion)):
        ax.text(j, i, str(value), ha="center", va="center", fontsize=12)
    ax.set_xticks(range(len(CLASSIFIER_LABELS)), CLASSIFIER_LABELS)
    ax.set_yticks(range(len(CLASSIFIER_LABELS)), CLASSIFIER_LABELS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("annotated")
    ax.set_title(title)
    save_figure(fig, path)


def _plot_curves(curves: dict, title: str, path: Path) -> None:
    fig, (roc, pr) = plt.subplots(1, 2, figsize=(8, 3.6))
    roc.plot(curves["fpr"], curves["tpr"])
    roc.plot([0, 1], [0, 1], ":", color="grey")
    roc.set(xlabel="false positive rate", ylabel="true positive rate",
            title=f"ROC, no_mask (AUC {curves['roc_auc']:.3f})")  # fmt: skip
    pr.plot(curves["recall"], curves["precision"])
    pr.set(xlabel="recall", ylabel="precision", ylim=(0, 1.02),
           title=f"PR, no_mask (AP {curves['average_precision']:.3f})")  # fmt: skip
    fig.suptitle(title)
    save_figure(fig, path)


def plot_precision_recall(
    curves: dict[str, tuple[list[float], list[float]]], title: str, path: Path, mark: int
) -> None:
    """One precision-recall curve per name; a dot on each at index ``mark`` (the default)."""
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for name, (precision, recall) in curves.items():
        (line,) = ax.plot(recall, precision, label=name)
        ax.plot(recall[mark], precision[mark], "o", color=line.get_color())
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02), title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    save_figure(fig, path)


def plot_bars(values: dict[str, float], labels: dict[str, str], title: str, path: Path) -> None:
    """One bar per name, 0..1, each captioned."""
    fig, ax = plt.subplots(figsize=(6, 3.4))
    bars = ax.bar(list(values), list(values.values()))
    ax.bar_label(bars, [labels[name] for name in values], fontsize=8)
    ax.set(ylim=(0, 1.15), title=title)
    save_figure(fig, path)


def plot_history(history: dict[str, list[float]], path: Path) -> None:
    """Accuracy and loss per epoch, training and validation."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for ax, metric in zip(axes, ("accuracy", "loss"), strict=True):
        ax.plot(history[metric], label="train")
        ax.plot(history[f"val_{metric}"], label="validation")
        ax.set(xlabel="epoch", title=metric)
        ax.legend()
    save_figure(fig, path)


def plot_label_counts(counts: dict[str, dict[str, int]], path: Path) -> None:
    """Faces per label in each split (grouped bars)."""
    labels = sorted({label for per_split in counts.values() for label in per_split})
    fig, ax = plt.subplots(figsize=(6, 3.2))
    width = 0.8 / len(counts)
    for i, (split, per_split) in enumerate(counts.items()):
        xs = np.arange(len(labels)) + i * width
        bars = ax.bar(xs, [per_split.get(label, 0) for label in labels], width, label=split)
        ax.bar_label(bars, fontsize=8)
    ax.set_xticks(np.arange(len(labels)) + width * (len(counts) - 1) / 2, labels)
    ax.set(ylabel="faces", title="label counts per split")
    ax.legend()
    save_figure(fig, path)


def classifier_report(y_true: np.ndarray, probabilities: np.ndarray, name: str, out: Path) -> dict:
    """Confusion matrix, per-class P/R/F1, ROC and PR for one set of faces; PNGs in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    report = classification_report(y_true, probabilities.argmax(axis=1))
    curves = roc_pr(y_true, probabilities[:, POSITIVE])
    report["roc_auc"] = curves["roc_auc"]
    report["average_precision"] = curves["average_precision"]
    _plot_confusion(report["confusion"], name, out / f"{name}_confusion.png")
    _plot_curves(curves, name, out / f"{name}_roc_pr.png")
    return report


def write_json(data: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def scene_width_tables(runs: list[dict]) -> list[str]:
    """Markdown, one table per run: per class and face width, recall, accuracy and F1."""
    lines = []
    for run in runs:
        lines += [
            f"### Detector max side {run['max_side']}, annotations {run['annotations']}",
            "",
            "| class | face width | faces | detection recall | right label among found | F1 "
            "| FP boxes |",
            "|---|---|---|---|---|---|---|",
        ]
        for label, by_width in run["per_class"].items():
            if not by_width["all"]["annotated"]:
                continue
            for width, f in by_width.items():
                lines.append(
                    f"| {label} | {width} | {f['annotated']} | {_figure(f['detection_recall'])} "
                    f"| {_figure(f.get('accuracy'))} | {_figure(f.get('f1'))} "
                    f"| {f.get('fp', '-')} |"
                )
        lines.append("")
    return lines


def _fixes_note(scene: dict) -> str:
    fixes = scene.get("annotation_fixes")
    if not fixes:
        return ""
    return (
        f" (`{fixes['file']}`: {fixes['ignore_regions']} ignore regions, "
        f"{fixes['relabelled']} labels corrected, each checked by eye)"
    )


def _crop_row(name: str, report: dict) -> str:
    per_class = report["per_class"]
    return (
        f"| {name} | {report['accuracy']:.4f} | "
        + " | ".join(
            f"{per_class[label]['precision']:.3f} / {per_class[label]['recall']:.3f}"
            for label in CLASSIFIER_LABELS
        )
        + " |"
    )


CURVE_ROWS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)  # operating points tabled in summary.md


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _f1(figures: dict) -> str:
    """F1, or "-" for a label no face of the set is annotated with."""
    return f"{figures['f1']:.3f}" if figures["tp"] + figures["fn"] else "-"


def _breakdown_table(title: str, table: dict) -> list[str]:
    cells = [f"{name}: {_figure(row['accuracy'])} ({row['faces']})" for name, row in table.items()]
    return [f"- {title}: " + "; ".join(cells)]


def _alarm_set_lines(name: str, result: dict) -> list[str]:
    t = result["mask_min_score"]
    at_t = next(r for r in result["curve"] if r["mask_min_score"] == round(t, 2))
    lines = [
        f"### {name} ({result['images']} photos, {result['ignore_regions']} ignore regions)",
        "",
        f"At t = {t}: bare faces called mask {_percent(at_t['bare_called_mask'])}, masked "
        f"faces right {_percent(at_t['masked_right'])}, masks worn wrongly raising the alarm "
        f"{_percent(at_t['wrongly_worn_alarm'])} (faces found by the detector, tolerant rule).",
        "",
        "| rule | " + " | ".join(f"{label} detection recall" for label in CLASSIFIER_LABELS)
        + " | " + " | ".join(f"{label} F1" for label in CLASSIFIER_LABELS) + " |",
        "|---|" + "---|" * 2 * len(CLASSIFIER_LABELS),
    ]  # fmt: skip
    for rule in ("tolerant", "iou"):
        figures = result[rule]
        recall = [figures["detection_recall"][label] for label in CLASSIFIER_LABELS]
        lines.append(
            f"| {rule} | "
            + " | ".join(
                f"{_figure(r['recall'])} ({r['detected']}/{r['annotated']})" for r in recall
            )
            + " | "
            + " | ".join(_f1(figures["per_label"][label]) for label in CLASSIFIER_LABELS)
            + " |"
        )
    confusion = result["tolerant"]["confusion"]
    lines += [
        "",
        "Matched faces (tolerant rule), rows annotated, columns called: "
        + "; ".join(
            f"{label} {' / '.join(map(str, row))}"
            for label, row in zip(CLASSIFIER_LABELS, confusion, strict=True)
        )
        + f" (order {', '.join(CLASSIFIER_LABELS)}).",
        "",
        "F1 by annotated width (tolerant): "
        + "; ".join(
            f"{label} "
            + ", ".join(
                f"{width} {_f1(f)}"
                for width, f in result["tolerant"]["per_class"][label].items()
                if width != "all"
            )
            for label in CLASSIFIER_LABELS
        ),
        "",
        "Bare faces right (not called mask) at t, by:",
        *_breakdown_table("detector's face width (px)", result["bare_faces"]["width"]),
        *_breakdown_table("pose from YuNet's landmarks", result["bare_faces"]["pose"]),
        *_breakdown_table("skin tone (cheeks' ITA)", result["bare_faces"]["skin_tone"]),
        "",
        f"The {result['bare_called_mask_sheet']['faces']} most confident bare faces called "
        f"mask: `{result['bare_called_mask_sheet']['file']}`.",
        "",
    ]
    return lines


def alarm_summary(alarm: dict) -> list[str]:
    """Markdown: the operating point, the curve at a few thresholds, and each set's figures."""
    t = alarm["mask_min_score"]
    sets = alarm["sets"]
    rows = sorted({*CURVE_ROWS, round(t, 2)})
    lines = [
        f"## The alarm's operating point: `pipeline.mask_min_score` = {t}",
        "",
        "A face is called mask only at P(mask) >= t (`maskwatch.core.labels.decide_labels`). "
        "Faces are "
        "matched to annotations by IoU >= 0.4 or one box at least 70% inside the other and "
        "covering at least 20% of it (`tolerant`; `iou`: IoU alone); predictions on ignore "
        "regions and faces under 24 px count neither way. Curve: "
        f"`{alarm['curve_plot']}`, every threshold in `alarm_evaluation.json`. The lowest t "
        "that calls at most 1% of bare faces mask on every set here: "
        f"{alarm['lowest_threshold_meeting_bare_target']}.",
        "",
        "| t | " + " | ".join(f"{name}: bare called mask / masked right / worn wrongly alarm"
                            for name in sets) + " |",
        "|---|" + "---|" * len(sets),
    ]  # fmt: skip
    for threshold in rows:
        cells = []
        for result in sets.values():
            r = next(r for r in result["curve"] if r["mask_min_score"] == threshold)
            cells.append(
                f"{_percent(r['bare_called_mask'])} / {_percent(r['masked_right'])} / "
                f"{_percent(r['wrongly_worn_alarm'])}"
            )
        lines.append(f"| {threshold:g}{' (default)' if threshold == round(t, 2) else ''} | "
                     + " | ".join(cells) + " |")  # fmt: skip
    lines.append("")
    for name, result in sets.items():
        lines += _alarm_set_lines(name, result)
    return lines


def _train_only_note(metrics: dict) -> str:
    extra = metrics.get("train_only")
    if not extra:
        return ""
    faces = ", ".join(f"{k} {v}" for k, v in extra["faces_added"].items() if v)
    return (
        f" Training only, not in the split: {', '.join(extra['sources'])} ({extra['photos']} "
        f"photos cut at their most confident face: {faces})."
    )


def write_summary(
    metrics: dict, int8: dict, scene: dict, path: Path, extra: list[str] = ()
) -> None:
    """A short Markdown page: what was trained, how it does on crops and on scenes, then
    ``extra`` lines."""
    crop = metrics["crop_test_keras"]
    added = metrics["synthetic_masks"]["added"]
    calibration = metrics["calibration"]
    lines = [
        f"# Classifier report: {metrics['backbone']}, {metrics['preprocess']['input_size']} px",
        "",
        f"Trained on {', '.join(metrics['sources'])} (crops: {metrics['crops']}, synthetic "
        f"faces added: {', '.join(f'{k} {v}' for k, v in added.items())}), seed "
        f"{metrics['seed']}, {metrics['epochs_run']} epochs in "
        f"{metrics['train_seconds'] / 60:.1f} min. Faces "
        + ", ".join(f"{k} {v}" for k, v in metrics["faces"].items())
        + " (split by deduplicated scene; see `label_counts.png`)."
        + _train_only_note(metrics),
        "",
        f"Calibration: temperature {calibration['temperature']:.3f} fitted on the validation "
        f"split (ECE {calibration['val_ece_before']:.4f} -> {calibration['val_ece_after']:.4f}; "
        f"crop test ECE {crop['ece']:.4f}); faces scored under "
        f"{calibration['min_label_score']} do not vote (`pipeline.min_label_score`).",
        "",
        "## Crop test split",
        "",
        "| | accuracy | "
        + " | ".join(f"{label} precision / recall" for label in CLASSIFIER_LABELS)
        + " |",
        "|---|---|" + "---|" * len(CLASSIFIER_LABELS),
        _crop_row("Keras", crop),
        _crop_row("int8 TFLite", int8),
        "",
        "| annotated face width (px) | faces | accuracy | "
        + " | ".join(f"{label} recall" for label in CLASSIFIER_LABELS)
        + " |",
        "|---|---|---|" + "---|" * len(CLASSIFIER_LABELS),
        *(
            f"| {name} | {row['faces']} | {row['accuracy']:.3f} | "
            + " | ".join(_figure(row.get(label)) for label in CLASSIFIER_LABELS)
            + " |"
            for name, row in crop["by_width"].items()
        ),
        "",
        "Plots: `training_curves.png`, `crop_test_keras_confusion.png`, "
        "`crop_test_keras_roc_pr.png`, `crop_test_by_width.png`; the 32 most confident "
        "errors: `crop_test_worst_errors.png`.",
        "",
        f"## Scene test split ({scene['images']} photos, the int8 bundle: detector + classifier)",
        "",
        "| label | precision | recall | F1 | TP | FP | FN | detection recall "
        "| right label among found |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, figures in scene["per_label"].items():
        detection = scene["detection_recall"][label]
        matched = scene["per_class"][label]["all"].get("accuracy")
        lines.append(
            f"| {label} | {figures['precision']:.3f} | {figures['recall']:.3f} "
            f"| {figures['f1']:.3f} | {figures['tp']} | {figures['fp']} | {figures['fn']} "
            f"| {_figure(detection['recall'])} ({detection['detected']}/{detection['annotated']}) "
            f"| {_figure(matched)} |"
        )
    lines += [
        "",
        f"Detector max side {scene['max_side']} (the bundle's), annotations "
        f"{scene['annotations']}{_fixes_note(scene)}. Scoring (`train/evaluate.py`): greedy "
        "IoU >= 0.4 matching per photo; annotated faces and unmatched predictions under 24 px "
        "count neither way, and so does a prediction on an ignore region.",
        "Plots of the faces the detector found: `scene_matched_faces_confusion.png`, "
        "`scene_matched_faces_roc_pr.png`. All figures: `scene_evaluation.json`.",
        "",
        *extra,
        "## Per class and face width",
        "",
        *scene_width_tables(scene["runs"]),
    ]
    path.write_text("\n".join(lines) + "\n")
