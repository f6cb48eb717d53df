"""``make bench``'s tables and targets: maskwatch against the seeds' pipeline and AIZOO's
FaceMaskDetection, from several interleaved runs of each configuration.

``results[frame set][pipeline][threads]`` is the list of a configuration's runs (one per
round) and ``results["daemon"]`` the daemon's. A speed, memory or start figure is shown
as its median over the runs with the range in brackets, "68.3 (61.0-70.2)"; a stage as
the median and range of its per-run p50, then the median of its p95. Every ratio is of
medians. Scene F1 and faces found per frame are medians over a pipeline's one-thread runs.
"""

from dataclasses import dataclass

import numpy as np

STAGES = {"decode": "decode (JPEG)", "detect": "detect", "crop": "crop + pre-process",
          "classify": "classify, per frame", "track": "track",
          "publish": "publish (MQTT)"}  # fmt: skip
VIEWER_MAX_COST = 0.10  # the status page with one viewer: at most 10% fewer frames/s
HEADER = ("| figure | maskwatch | seed baseline | AIZOO | maskwatch better than seed by | "
          "maskwatch better than AIZOO by |\n|---|---|---|---|---|---|")  # fmt: skip


@dataclass(frozen=True)
class Spread:
    """A figure over several runs: its median, and its lowest and highest values."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> "Spread":
        return cls(float(np.median(values)), min(values), max(values))

    def text(self, digits: int = 1) -> str:
        return f"{self.median:.{digits}f} ({self.low:.{digits}f}-{self.high:.{digits}f})"


def spread(runs: list[dict], *keys: str) -> Spread | None:
    """The figure at ``keys`` (e.g. "stages", "detect", "p50") over ``runs``; None when
    a run lacks it."""
    values = []
    for run in runs:
        value = run
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            return None
        values.append(float(value))
    return Spread.of(values)


def ratio(ours: Spread | None, theirs: Spread | None, higher_is_better: bool) -> str:
    """How many times better maskwatch's median is than the other's."""
    if not ours or not theirs or not ours.median or not theirs.median:
        return ""
    value = ours.median / theirs.median if higher_is_better else theirs.median / ours.median
    return f"{value:.1f}x"


def row(figure: str, cells: list[Spread | None], digits: int, higher: bool) -> str:
    """One figure for maskwatch, the seeds and AIZOO, with maskwatch's two ratios."""
    ours, seed, aizoo = cells
    texts = [c.text(digits) if c else "n/a" for c in cells]
    return (f"| {figure} | {' | '.join(texts)} | {ratio(ours, seed, higher)} | "
            f"{ratio(ours, aizoo, higher)} |")  # fmt: skip


def stage_text(runs: list[dict], stage: str) -> str:
    p50, p95 = spread(runs, *stage.split("."), "p50"), spread(runs, *stage.split("."), "p95")
    return f"{p50.text(2)} / {p95.median:.2f}" if p50 and p95 else "n/a"


def stage_row(figure: str, stage: str, trio: list[list[dict]]) -> str:
    """A stage's p50 (median and range over runs) / p95 (median) for the three pipelines."""
    ours, seed, aizoo = (spread(runs, *stage.split("."), "p50") for runs in trio)
    texts = " | ".join(stage_text(runs, stage) for runs in trio)
    return (f"| {figure}, ms p50 / p95 | {texts} | {ratio(ours, seed, False)} | "
            f"{ratio(ours, aizoo, False)} |")  # fmt: skip


def stage_rows(trio: list[list[dict]]) -> list[str]:
    rows = []
    for stage, name in STAGES.items():
        rows.append(stage_row(name, f"stages.{stage}", trio))
        if stage == "classify":
            rows.append(stage_row("classify, per face", "classify_per_face", trio))
    return rows


def first(runs: list[dict], key: str) -> float:
    return runs[0][key]


def f1_row(f1: dict) -> str:
    cells = " | ".join(f"{f1[p]['mask']:.3f} / {f1[p]['no_mask']:.3f}"
                       for p in ("maskwatch", "seed", "aizoo"))  # fmt: skip
    return f"| scene F1 mask / no_mask | {cells} | | |"


def frame_set_rows(runs: dict, threads: list[int]) -> list[str]:
    """The rows both frame sets share: stages, frames/s per thread count, F1."""
    trio = [runs[p][1] for p in ("maskwatch", "seed", "aizoo")]
    rows = stage_rows(trio)
    for count in threads:
        cells = [spread(runs[p][count], "fps") for p in ("maskwatch", "seed", "aizoo")]
        rows.append(row(f"end to end, {count} thread{'s' * (count > 1)}, frames/s", cells, 1, True))
    return rows


def table(results: dict) -> str:
    door, native, daemon = results["doorway"], results["native"], results["daemon"]
    seed, aizoo = door["seed"][1], door["aizoo"][1]
    start = [spread(runs, "first_frame_s") for runs in (daemon, seed, aizoo)]
    event = [spread(runs, "first_event_s") for runs in (daemon, seed, aizoo)]
    faces = " | ".join(f"{spread(door[p][1], 'faces_per_frame').median:.2f}"
                       for p in ("maskwatch", "seed", "aizoo"))  # fmt: skip
    lines = [
        f"### 640x480 doorway sequence ({first(door['maskwatch'][1], 'frames')} frames, "
        f"{len(daemon)} runs of each: median (range))",
        "",
        HEADER,
        *frame_set_rows(door, results["threads"]),
        row("peak RSS, MB (maskwatch: the daemon)",
            [spread(runs, "peak_rss_mb") for runs in (daemon, seed, aizoo)], 0, False),
        row("start to first processed frame, s", start, 2, False),
        row("start to first event, s", event, 2, False),
        f"| faces found per frame | {faces} | | |",
        f1_row(door["f1"]),
        *variant_rows(door),
        viewer_row(door),
        *schedule_rows(door),
        *lean_seed_rows(door),
        "",
        f"### Native-size test scenes ({first(native['maskwatch'][1], 'frames')} photos, "
        f"1 thread, {len(daemon)} runs of each: median (range))",
        "",
        HEADER,
        *frame_set_rows(native, [1]),
        f1_row(native["f1"]),
        *variant_rows(native),
    ]  # fmt: skip
    return "\n".join(lines)


def fps(results: dict, pipeline: str) -> Spread:
    return spread(results[pipeline][1], "fps")


def italic(variant: str, figure: str, ours: str, seed: str = "", ratio_text: str = "") -> str:
    """A variant's row: maskwatch's figure, the seeds' where it compares, one ratio."""
    return f"| *{variant}:* {figure} | {ours} | {seed} | | {ratio_text} | |"


def viewer_cost(results: dict) -> float:
    """The share of frames per second one status page viewer costs (negative: none)."""
    return 1.0 - fps(results, "maskwatch-viewer").median / fps(results, "maskwatch").median


def viewer_row(results: dict) -> str:
    """The status page on, one client reading its live view, against nobody watching."""
    pictures = first(results["maskwatch-viewer"][1], "viewer_pictures")
    return italic("status page, one viewer", "end to end, 1 thread, frames/s",
                  f"{fps(results, 'maskwatch-viewer').text()} (nobody watching: "
                  f"{fps(results, 'maskwatch').text()}; cost {viewer_cost(results):+.1%}; "
                  f"{pictures} pictures sent)")  # fmt: skip


def schedule_rows(results: dict) -> list[str]:
    """The classification schedule (the default) against classifying every face every frame."""
    ours, every = results["maskwatch"][1], results["maskwatch-every-frame"][1]
    f1, name = results["f1"]["maskwatch-every-frame"], "every face classified on every frame"
    seed = fps(results, "seed")
    return [
        italic(name, "classify, ms p50 / p95 per frame", f"{stage_text(ours, 'stages.classify')}"
               f" (every frame: {stage_text(every, 'stages.classify')})"),
        italic(name, "end to end, 1 thread, frames/s", f"{fps(results, 'maskwatch').text()} "
               f"(every frame: {fps(results, 'maskwatch-every-frame').text()})", seed.text(),
               ratio(fps(results, "maskwatch-every-frame"), seed, True)),
        italic(name, "scene F1 mask / no_mask", f"{f1['mask']:.3f} / {f1['no_mask']:.3f}"),
    ]  # fmt: skip


def lean_seed_rows(results: dict) -> list[str]:
    """The seeds with predict_on_batch: what a seed user tuning for speed would get."""
    ours, lean = results["maskwatch"][1], results["seed-lean"][1]
    per_face = [spread(runs, "classify_per_face", "p50") for runs in (ours, lean)]
    name = "seed with predict_on_batch"
    return [
        italic(name, "classify, per face, ms p50 / p95", stage_text(ours, "classify_per_face"),
               stage_text(lean, "classify_per_face"), ratio(*per_face, False)),
        italic(name, "end to end, 1 thread, frames/s", fps(results, "maskwatch").text(),
               fps(results, "seed-lean").text(),
               ratio(fps(results, "maskwatch"), fps(results, "seed-lean"), True)),
    ]  # fmt: skip


def variant_rows(results: dict) -> list[str]:
    """maskwatch with the bundle's 640 px detector input instead of the daemon's 320."""
    run, f1 = results["maskwatch-640"][1], results["f1"]["maskwatch-640"]
    wide, seed = fps(results, "maskwatch-640"), fps(results, "seed")
    return [
        italic("with the bundle's 640 px detector", "detect, ms p50 / p95",
               stage_text(run, "stages.detect")),
        italic("with the 640 px detector", "end to end, 1 thread, frames/s", wide.text(),
               seed.text(), ratio(wide, seed, True)),
        italic("with the 640 px detector", "scene F1 mask / no_mask",
               f"{f1['mask']:.3f} / {f1['no_mask']:.3f}"),
    ]  # fmt: skip


def better_f1(f1: dict, other: str) -> tuple[str, bool]:
    ours, theirs = f1["maskwatch"], f1[other]
    text = (f"mask {ours['mask']:.3f} vs {theirs['mask']:.3f}, no_mask {ours['no_mask']:.3f} "
            f"vs {theirs['no_mask']:.3f}")  # fmt: skip
    return text, ours["mask"] > theirs["mask"] and ours["no_mask"] > theirs["no_mask"]


def targets(results: dict) -> list[str]:
    door, daemon = results["doorway"], results["daemon"]

    def times(other: str) -> float:
        return fps(door, "maskwatch").median / fps(door, other).median

    rss, start = spread(daemon, "peak_rss_mb"), spread(daemon, "first_frame_s")
    seed_f1, seed_better = better_f1(door["f1"], "seed")
    aizoo_f1, aizoo_better = better_f1(door["f1"], "aizoo")
    checks = [
        (f"end to end >= 10x the baseline at 1 thread: {times('seed'):.1f}x (against the seeds "
         f"tuned with predict_on_batch: {times('seed-lean'):.1f}x)", times("seed") >= 10),
        (f"higher scene F1 than the baseline: {seed_f1}", seed_better),
        (f"end to end >= 2x AIZOO's at 1 thread: {times('aizoo'):.1f}x", times("aizoo") >= 2),
        (f"higher scene F1 than AIZOO: {aizoo_f1}", aizoo_better),
        (f"daemon peak RSS <= 120 MB: {rss.median:.0f} MB", rss.median <= 120),
        (f"start to first processed frame < 1.5 s: {start.median:.2f} s", start.median < 1.5),
        (f"one status page viewer costs at most {VIEWER_MAX_COST:.0%} of the frame rate: "
         f"{viewer_cost(door):.1%}", viewer_cost(door) <= VIEWER_MAX_COST),
    ]  # fmt: skip
    return [f"- {'met' if ok else 'MISSED'}: {text}" for text, ok in checks]
