"""The event payload: maskwatch's public contract with subscribers (version 1).

Within a version fields are only ever added; ``v`` changes when a field changes its
meaning or goes away. ``track_id`` counts from 1 in each run of the daemon, so a person
is identified by ``(run_id, track_id)``.
"""

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from maskwatch.tracking.tracker import Track

EVENT_VERSION = 1
EVENT_TYPES = ("new", "update", "end")


def iso_utc(timestamp: float) -> str:
    """``2026-11-24T07:15:02.113Z``."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def new_run_id() -> str:
    """A fresh id for one run of the daemon (12 hex digits)."""
    return uuid.uuid4().hex[:12]


def event_payload(
    kind: str,
    track: "Track",
    frame_size: tuple[int, int],
    device: str,
    run_id: str,
    clock_synced: bool,
) -> dict:
    """One event without its ``seq``: the durable queue numbers events as it stores them.
    ``clock_synced`` False says the times come from a clock not yet synchronised."""
    if kind not in EVENT_TYPES:
        raise ValueError(f"event type {kind!r} is not one of {EVENT_TYPES}")
    return {
        "v": EVENT_VERSION,
        "type": kind,
        "event_id": uuid.uuid4().hex,
        "run_id": run_id,
        "track_id": track.track_id,
        "label": track.label,
        "score": round(track.score, 4),
        "box": list(track.face.box),
        "frame": list(frame_size),
        "first_seen": iso_utc(track.first_seen.wall),
        "last_seen": iso_utc(track.last_seen.wall),
        "clock_synced": clock_synced,
        "device": device,
    }


def in_view_entry(event: dict) -> tuple[str, dict | None]:
    """The person an event is about, and the event to remember them by (None once they
    ended): what the queue keeps so that a crash still ends them at the next start."""
    return f"{event['run_id']}/{event['track_id']}", None if event["type"] == "end" else event


def recovered_end(last: dict) -> dict:
    """The ``end`` of a person who was in view when an earlier run died (SIGKILL, power
    cut), made at the next start from that person's last event: ``last_seen`` is the
    last time recorded, and ``recovered`` marks it as such."""
    return {**last, "type": "end", "event_id": uuid.uuid4().hex, "recovered": True}
