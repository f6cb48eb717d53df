"""The event payload: maskwatch's public contract with subscribers (version 1)."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from edge.pipeline import Face

EVENT_VERSION = 1
EVENT_TYPES = ("new", "update", "end")


def iso_utc(timestamp: float) -> str:
    """``2026-11-24T07:15:02.113Z``."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class EventFactory:
    """Numbers events of one device with a monotonic ``seq``."""

    device: str
    seq: int = 0

    def make(
        self,
        kind: str,
        track_id: int,
        face: Face,
        frame_size: tuple[int, int],
        first_seen: float,
        last_seen: float,
    ) -> dict:
        if kind not in EVENT_TYPES:
            raise ValueError(f"event type {kind!r} is not one of {EVENT_TYPES}")
        self.seq += 1
        return {
            "v": EVENT_VERSION,
            "type": kind,
            "event_id": uuid.uuid4().hex,
            "track_id": track_id,
            "label": face.label,
            "score": round(face.score, 4),
            "box": list(face.box),
            "frame": list(frame_size),
            "first_seen": iso_utc(first_seen),
            "last_seen": iso_utc(last_seen),
            "device": self.device,
            "seq": self.seq,
        }
