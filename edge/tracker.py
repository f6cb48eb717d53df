"""Follow faces across frames and turn them into per-person events.

Faces are associated with tracks greedily by IoU. A track's label is a vote over its
last ``vote_window`` frames; a track is confirmed (event ``new``) once it has been seen
in ``confirm_frames`` frames (and at least one of its faces was classified with
``min_label_score`` or more: less sure faces are followed but do not vote), its
confirmed label changes (event ``update``) only when
the vote turns, and it ends (event ``end``) after ``end_after`` seconds unseen. One
person walking past is one ``new``, not one event per frame; a single odd frame
changes nothing.

Ages are measured on the monotonic clock (:class:`~edge.clock.Moment`), so a step of the
wall clock neither ends the people in view nor keeps them there; the daemon calls
:meth:`Tracker.expire` even when no frame arrives, so a stalled camera ends them too.
"""

from collections import Counter, deque
from dataclasses import dataclass, field

from edge.clock import Moment
from edge.config import TrackingConfig
from edge.matching import match_greedy
from edge.pipeline import Face


@dataclass
class Track:
    track_id: int
    face: Face  # the latest observation
    first_seen: Moment
    last_seen: Moment
    votes: deque[str]
    frames: int = 1
    label: str | None = None  # the confirmed label; None until confirmed

    @property
    def score(self) -> float:
        """The latest probability of the confirmed label (two classes: 1 - the other's)."""
        if self.label is None or self.face.label == self.label:
            return self.face.score
        return 1.0 - self.face.score

    def voted_label(self) -> str:
        """The most frequent recent label; ties go to the most recent of the tied ones."""
        counts = Counter(self.votes)
        best = max(counts.values())
        return next(label for label in reversed(self.votes) if counts[label] == best)


@dataclass(frozen=True)
class TrackEvent:
    kind: str  # new | update | end
    track: Track
    label: str  # the track's label when the event happened


@dataclass
class Tracker:
    config: TrackingConfig
    min_label_score: float = 0.0
    tracks: list[Track] = field(default_factory=list)
    _next_id: int = 1

    def update(self, faces: list[Face], at: Moment) -> list[TrackEvent]:
        """Associate one frame's faces with the tracks; return the events it causes."""
        events: list[TrackEvent] = []
        matches = dict(
            match_greedy([f.box for f in faces], [t.face.box for t in self.tracks],
                         self.config.min_iou)
        )  # fmt: skip
        for i, face in enumerate(faces):
            if i in matches:
                track = self.tracks[matches[i]]
                track.face, track.last_seen = face, at
                track.frames += 1
            else:
                track = Track(self._next_id, face, at, at,
                              deque(maxlen=self.config.vote_window))  # fmt: skip
                self._next_id += 1
                self.tracks.append(track)
            if face.score >= self.min_label_score:
                track.votes.append(face.label)
            events.extend(self._confirm(track))
        events.extend(self.expire(at.monotonic))
        return events

    def _confirm(self, track: Track) -> list[TrackEvent]:
        if track.frames < self.config.confirm_frames or not track.votes:
            return []
        voted = track.voted_label()
        if track.label is None:
            track.label = voted
            return [TrackEvent("new", track, voted)]
        if voted != track.label:
            track.label = voted
            return [TrackEvent("update", track, voted)]
        return []

    def expire(self, monotonic: float | None = None) -> list[TrackEvent]:
        """End tracks unseen for ``end_after`` seconds of the monotonic clock (all of them
        when ``monotonic`` is None, as at shutdown); unconfirmed tracks vanish silently."""
        gone = [
            t for t in self.tracks
            if monotonic is None or monotonic - t.last_seen.monotonic > self.config.end_after
        ]  # fmt: skip
        self.tracks = [t for t in self.tracks if t not in gone]
        return [TrackEvent("end", t, t.label) for t in gone if t.label is not None]

    def counts(self) -> Counter:
        """Confirmed tracks present now, by label."""
        return Counter(t.label for t in self.tracks if t.label is not None)
