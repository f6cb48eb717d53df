"""What the daemon's frame loop makes of a rendered sequence, counted in people, not frames.

For each person: how many ``new`` events per visit (one is right; a person away for
longer than ``end_after`` + ``return_within`` starts a new visit), whether each change of
their label came as an ``update``, and how soon the ``no_mask`` alarm followed each change
of what a person at the door would see (someone arriving, a mask pulled down or up, the
last bare face leaving).
"""

import time
from dataclasses import dataclass, field

from maskwatch.core.clock import Moment
from maskwatch.core.config import Config
from maskwatch.core.labels import MASK_INCORRECT, NO_MASK
from maskwatch.core.matching import iou_matrix
from maskwatch.tracking.frame_loop import FrameLoop
from maskwatch.vision.pipeline import MaskPipeline
from workbench.door_scenes import FPS, DoorSequence

ALARM_LABELS = (NO_MASK, MASK_INCORRECT)
MATCH_IOU = 0.2  # an event's box and a person's face box, for naming the person
RETURN_GRACE = 3.0  # s: away longer than end_after and this, a person may count again


@dataclass
class Score:
    people: int = 0  # visits, really: a person back after a long absence counts again
    news: int = 0
    duplicate_news: int = 0
    false_news: int = 0
    label_changes: int = 0  # changes of a person's label while in view
    updates: int = 0  # update events of tracks matched to a person
    latencies: dict[str, list[float | None]] = field(default_factory=dict)  # s, per change kind
    track_ms: float = 0.0  # mean ms per frame of the frame loop


def person_of(sequence: DoorSequence, walker: int) -> int:
    chosen = sequence.walkers[walker].person
    return walker if chosen is None else chosen


def visits(sequence: DoorSequence, gap_frames: int) -> dict[int, list[tuple[int, int]]]:
    """Each person's visits: (first, last) frame in view, split by gaps over ``gap_frames``."""
    seen: dict[int, list[int]] = {}
    for frame in range(sequence.frames):
        for appearance in sequence.people(frame, whole=False):
            seen.setdefault(person_of(sequence, appearance.person), []).append(frame)
    spans = {}
    for person, frames in seen.items():
        spans[person] = []
        start = previous = frames[0]
        for frame in frames[1:]:
            if frame - previous > gap_frames:
                spans[person].append((start, previous))
                start = frame
            previous = frame
        spans[person].append((start, previous))
    return spans


def whose(sequence: DoorSequence, frame: int, box: tuple) -> int | None:
    """The person whose face is at ``box`` in ``frame`` (or was, within a second)."""
    for back in range(0, FPS + 1):
        shown = sequence.people(max(0, frame - back), whole=False)
        if shown:
            overlap = iou_matrix([box], [a.face for a in shown])[0]
            if overlap.max() >= MATCH_IOU:
                return person_of(sequence, shown[int(overlap.argmax())].person)
    return None


def alarm_due(sequence: DoorSequence, frame: int) -> bool:
    """Someone whose face is wholly in view wears no mask, or wears it wrongly."""
    return any(sequence.sprite(a.person, frame).label in ALARM_LABELS
               for a in sequence.people(frame, whole=True))  # fmt: skip


def labels_in_view(sequence: DoorSequence, frame: int) -> dict[int, str]:
    return {person_of(sequence, a.person): sequence.sprite(a.person, frame).label
            for a in sequence.people(frame, whole=True)}  # fmt: skip


def run(sequence: DoorSequence, config: Config, pipeline: MaskPipeline) -> Score:
    loop = FrameLoop.from_config(config, pipeline)
    events, alarm, seconds = [], [], 0.0
    for frame in range(sequence.frames):
        image = sequence.render(frame)
        now = frame / FPS
        started = time.perf_counter()
        result = loop.step(image, Moment(now, now))
        seconds += time.perf_counter() - started
        events += [(frame, e.kind, e.track.track_id, e.track.face.box) for e in result.events]
        counts = loop.tracker.counts()
        alarm.append(any(counts[label] for label in ALARM_LABELS))
    score = score_events(sequence, config, events)
    score.latencies = alarm_latencies(sequence, alarm)
    score.track_ms = 1000 * seconds / sequence.frames
    return score


def score_events(sequence: DoorSequence, config: Config, events: list) -> Score:
    gap = int((config.tracking.end_after + RETURN_GRACE) * FPS)
    spans = visits(sequence, gap)
    score = Score(people=sum(len(v) for v in spans.values()))
    owners: dict[int, int | None] = {}  # track id -> person
    news_per_visit: dict[tuple[int, int], int] = {}
    for frame, kind, track_id, box in events:
        if kind == "new":
            person = whose(sequence, frame, box)
            owners[track_id] = person
            score.news += 1
            if person is None:
                score.false_news += 1
                continue
            visit = next(i for i, (a, b) in enumerate(spans[person]) if a <= frame <= b + gap)
            news_per_visit[(person, visit)] = news_per_visit.get((person, visit), 0) + 1
        elif kind == "update" and owners.get(track_id) is not None:
            score.updates += 1
    score.duplicate_news = sum(n - 1 for n in news_per_visit.values())
    previous: dict[int, str] = {}
    for frame in range(sequence.frames):
        for person, label in labels_in_view(sequence, frame).items():
            score.label_changes += person in previous and previous[person] != label
            previous[person] = label
    return score


def alarm_latencies(sequence: DoorSequence, alarm: list[bool]) -> dict[str, list[float | None]]:
    """For each change of what the alarm should say: seconds until it said so (None: not
    before the next change), by the kind of change."""
    due = [alarm_due(sequence, f) for f in range(sequence.frames)]
    changes = [f for f in range(1, len(due)) if due[f] != due[f - 1]]
    latencies: dict[str, list[float | None]] = {}
    for i, frame in enumerate(changes):
        end = changes[i + 1] if i + 1 < len(changes) else len(due)
        agree = next((f for f in range(frame, end) if alarm[f] == due[frame]), None)
        kind = change_kind(sequence, frame)
        latencies.setdefault(kind, []).append(None if agree is None else (agree - frame) / FPS)
    return latencies


def change_kind(sequence: DoorSequence, frame: int) -> str:
    before, after = labels_in_view(sequence, frame - 1), labels_in_view(sequence, frame)
    if set(after) - set(before):
        return "arrive"
    if set(before) - set(after):
        return "leave"
    return "label"


def worst(values: list[float | None]) -> float:
    return float("inf") if any(v is None for v in values) else max(values, default=0.0)


def row(name: str, score: Score) -> str:
    latency = {k: worst(v) for k, v in score.latencies.items()}
    shown = ", ".join(f"{k} {v:.1f}" for k, v in sorted(latency.items())) or "-"
    return (f"| {name} | {score.people} | {score.news} | {score.duplicate_news} | "
            f"{score.false_news} | {score.updates} of {score.label_changes} | {shown} | "
            f"{score.track_ms:.1f} |")  # fmt: skip


HEADER = ("| sequence | people | `new` | duplicate `new` | false `new` | `update` of label "
          "changes | alarm latency, s (worst per kind) | frame loop, ms/frame |\n"
          "|---|---|---|---|---|---|---|---|")  # fmt: skip
