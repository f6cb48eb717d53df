"""Follow faces across frames and turn them into per-person events.

Faces are associated with tracks greedily, first by IoU with where each person was last
seen or where their motion so far would have taken them (a walker missed for a few
frames is picked up again ahead of where they were lost), then, for faces and tracks
still unpaired, by the distance of the box centres, up to ``max_shift`` face widths,
between faces of about one size. A track's label is a vote over its last ``vote_window``
classified frames; a track is confirmed (event ``new``) once it has been seen in
``confirm_frames`` frames (and at least one of its faces was classified with
``min_label_score`` or more: less sure faces are followed but do not vote), its
confirmed label changes (event ``update``) only when the vote turns. After ``end_after``
seconds unseen a person leaves the counts (the alarm and the state topic), and their
``end`` follows ``return_within`` seconds later unless they come back: a face found
again by then, where that person could have walked and wearing the same clothes
(:mod:`maskwatch.tracking.appearance`), continues their track, so a head turned down, a
hand over the face or a step out of view is not a second ``new``. One person walking past
is one ``new``, not one event per frame; a single odd frame changes nothing. Faces whose
label was carried over from the track instead of classified again
(:mod:`maskwatch.tracking.schedule`) do not vote.

Ages are measured on the monotonic clock (:class:`~maskwatch.core.clock.Moment`), so a step
of the wall clock neither ends the people in view nor keeps them there; the daemon calls
:meth:`Tracker.expire` even when no frame arrives, so a stalled camera ends them too.
"""

from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from maskwatch.core.clock import Moment
from maskwatch.core.config import TrackingConfig
from maskwatch.core.matching import greedy_pairs, iou_matrix
from maskwatch.core.preprocess import Box
from maskwatch.tracking.appearance import blend, similarity
from maskwatch.vision.pipeline import Face
from maskwatch.vision.regions import span

MAX_SIZE_RATIO = 1.5  # faces paired by distance differ in width by at most this factor
# Re-linking a face found again to a person unseen for a while, by their clothes:
RELINK_SIMILARITY = 0.8  # histogram intersection at least this (0..1): docs/tracking.md
RELINK_SIZE_RATIO = 2.0  # a face at most this factor wider or narrower than theirs
RELINK_SPEED = 3.0  # face widths a second a person may have walked while unseen
RELINK_AFTER = 0.25  # seconds unseen before a track is offered by appearance
# A confirmed label changes only when this share of the recent votes says so: a face the
# operating point keeps near P(mask) = mask_min_score must not flicker (an update each time).
SWITCH_SHARE = 0.8
VELOCITY_MEMORY = 1.0  # seconds unseen after which a track's velocity starts afresh


@dataclass
class Track:
    track_id: int
    face: Face  # the latest observation
    first_seen: Moment
    last_seen: Moment
    votes: deque[str]
    frames: int = 1
    label: str | None = None  # the confirmed label; None until confirmed
    velocity: tuple[float, float] = (0.0, 0.0)  # of the box centre, pixels per second
    classified_box: Box | None = None  # the box of the latest face classified afresh
    classified_frames: int = 0  # frames whose face was classified afresh
    since_classified: int = 0  # frames since the latest of those
    appearance: np.ndarray | None = None  # the clothes under the face (appearance.describe)

    def predicted_box(self, monotonic: float) -> Box:
        """The latest box moved on by the track's velocity to ``monotonic`` seconds."""
        elapsed = monotonic - self.last_seen.monotonic
        dx, dy = (round(v * elapsed) for v in self.velocity)
        x1, y1, x2, y2 = self.face.box
        return (x1 + dx, y1 + dy, x2 + dx, y2 + dy)

    def observe(self, face: Face, at: Moment) -> None:
        """Move the track to ``face``, seen at ``at``."""
        elapsed = at.monotonic - self.last_seen.monotonic
        if elapsed > VELOCITY_MEMORY:  # back after a gap: the jump says nothing of speed
            self.velocity = (0.0, 0.0)
        elif elapsed > 0:
            (ox, oy), (nx, ny) = centre(self.face.box), centre(face.box)
            vx, vy = (nx - ox) / elapsed, (ny - oy) / elapsed
            if self.frames > 1:  # smoothed: detection boxes jitter by a few pixels
                vx, vy = (vx + self.velocity[0]) / 2, (vy + self.velocity[1]) / 2
            self.velocity = (vx, vy)
        self.face, self.last_seen = face, at
        self.frames += 1

    scores: dict[str, float] = field(default_factory=dict)  # latest probability per label

    @property
    def score(self) -> float:
        """The latest probability of the confirmed label: from the latest face classified
        as it (the latest face may say otherwise, one odd frame, or the turn before an
        ``update``)."""
        if self.label is None:
            return self.face.score
        return self.scores.get(self.label, self.face.score)

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
    tracks: list[Track] = field(default_factory=list)  # the people in view (or just out of it)
    lost: list[Track] = field(default_factory=list)  # out of the counts, may still come back
    _next_id: int = 1

    def associate(
        self, boxes: Sequence[Box], at: Moment, looks: Sequence[np.ndarray | None] | None = None
    ) -> list[Track | None]:
        """The track each face box belongs to (None: someone new); changes nothing.
        ``looks``: each face's clothes descriptor, for faces found again after a while."""
        now = at.monotonic
        last = [t.face.box for t in self.tracks]
        predicted = [t.predicted_box(now) for t in self.tracks]
        overlap = np.maximum(iou_matrix(boxes, last), iou_matrix(boxes, predicted))
        pairs = dict(greedy_pairs(overlap, self.config.min_iou))
        if self.config.max_shift > 0:
            closeness = self._closeness(boxes, last, predicted)
            closeness[list(pairs)] = -1.0
            closeness[:, list(pairs.values())] = -1.0
            pairs.update(greedy_pairs(closeness, 0.0))
        linked: list[Track | None] = [self.tracks[pairs[i]] if i in pairs else None
                                      for i in range(len(boxes))]  # fmt: skip
        if looks is not None and self.config.return_within > 0:
            self._relink(boxes, looks, linked, now)
        return linked

    def _relink(
        self, boxes: Sequence[Box], looks: Sequence[np.ndarray | None],
        linked: list[Track | None], now: float,
    ) -> None:  # fmt: skip
        """Faces nobody claimed, given to people unseen for a while who wear the same
        clothes and could have walked there, best matches first."""
        taken = {id(t) for t in linked if t is not None}
        candidates = [t for t in (*self.tracks, *self.lost) if id(t) not in taken
                      and now - t.last_seen.monotonic >= RELINK_AFTER]  # fmt: skip
        faces = [i for i, t in enumerate(linked) if t is None]
        if not candidates or not faces:
            return
        scores = np.full((len(faces), len(candidates)), -1.0)
        for row, i in enumerate(faces):
            for col, track in enumerate(candidates):
                if plausible_return(track, boxes[i], now):
                    scores[row, col] = similarity(looks[i], track.appearance)
        for row, col in greedy_pairs(scores, RELINK_SIMILARITY):
            linked[faces[row]] = candidates[col]

    def _closeness(self, boxes: Sequence[Box], last: list[Box], predicted: list[Box]) -> np.ndarray:
        """1 where a box's centre is on a track's (latest or predicted), falling to 0 at
        ``max_shift`` face widths away; -1 for faces of too different a size."""
        scores = np.full((len(boxes), len(last)), -1.0)
        for i, box in enumerate(boxes):
            width = box[2] - box[0]
            for j, (seen, ahead) in enumerate(zip(last, predicted, strict=True)):
                seen_width = seen[2] - seen[0]
                if max(width, seen_width) > MAX_SIZE_RATIO * max(1, min(width, seen_width)):
                    continue
                shift = min(distance(box, seen), distance(box, ahead))
                reach = self.config.max_shift * max(width, seen_width)
                scores[i, j] = 1.0 - shift / reach if shift <= reach else -1.0
        return scores

    def update(
        self,
        faces: list[Face],
        at: Moment,
        tracks: list[Track | None] | None = None,
        looks: Sequence[np.ndarray | None] | None = None,
    ) -> list[TrackEvent]:
        """Associate one frame's faces with the tracks (or take ``tracks``, what
        :meth:`associate` said for these faces); return the events it causes. ``looks``:
        each face's clothes descriptor, kept up to date on its track."""
        if tracks is None:
            tracks = self.associate([f.box for f in faces], at, looks)
        events: list[TrackEvent] = []
        for index, (face, track) in enumerate(zip(faces, tracks, strict=True)):
            if track is None:
                track = Track(self._next_id, face, at, at,
                              deque(maxlen=self.config.vote_window))  # fmt: skip
                self._next_id += 1
                self.tracks.append(track)
            else:
                if track in self.lost:  # back within return_within: the same visit
                    self.lost.remove(track)
                    self.tracks.append(track)
                track.observe(face, at)
            if looks is not None:
                track.appearance = blend(track.appearance, looks[index])
            if face.classified:
                track.scores[face.label] = face.score
                track.classified_box = face.box
                track.classified_frames += 1
                track.since_classified = 0
                if face.score >= self.min_label_score or face.demoted:
                    track.votes.append(face.label)
            else:
                track.since_classified += 1
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
        if voted != track.label and track.votes.count(voted) >= SWITCH_SHARE * len(track.votes):
            track.label = voted
            return [TrackEvent("update", track, voted)]
        return []

    def expire(self, monotonic: float | None = None) -> list[TrackEvent]:
        """People unseen for ``end_after`` seconds of the monotonic clock leave the counts;
        their ``end`` comes ``return_within`` seconds later unless they are found again
        (at once for everybody when ``monotonic`` is None, as at shutdown). Unconfirmed
        tracks vanish silently."""

        def unseen(track: Track, seconds: float) -> bool:
            return monotonic is None or monotonic - track.last_seen.monotonic > seconds

        leaving = [t for t in self.tracks if unseen(t, self.config.end_after)]
        self.tracks = [t for t in self.tracks if t not in leaving]
        self.lost += [t for t in leaving if t.label is not None]
        patience = self.config.end_after + self.config.return_within
        gone = [t for t in self.lost if unseen(t, patience)]
        self.lost = [t for t in self.lost if t not in gone]
        return [TrackEvent("end", t, t.label) for t in gone]

    def counts(self) -> Counter:
        """Confirmed tracks present now, by label."""
        return Counter(t.label for t in self.tracks if t.label is not None)


def plausible_return(track: Track, box: Box, now: float) -> bool:
    """Whether the person of ``track`` could be the face at ``box`` now: about as wide,
    and no further from where they were last seen than they could have walked."""
    seen = track.face.box
    width, seen_width = box[2] - box[0], seen[2] - seen[0]
    if max(width, seen_width) > RELINK_SIZE_RATIO * max(1, min(width, seen_width)):
        return False
    gone = now - track.last_seen.monotonic
    return distance(box, seen) <= seen_width * (1.0 + RELINK_SPEED * gone)


def centre(box: Box) -> tuple[float, float]:
    return ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


def distance(a: Box, b: Box) -> float:
    """Between the boxes' centres, in pixels."""
    (ax, ay), (bx, by) = centre(a), centre(b)
    return float(np.hypot(ax - bx, ay - by))


TRACK_GRACE = 1.0  # seconds a tracked face not found again keeps its region


def recent_faces(tracks: Iterable[Track], monotonic: float) -> list[Box]:
    """Where to look for the tracked faces seen within TRACK_GRACE of ``monotonic``
    (seconds on the monotonic clock, as tracks age): around both where each was last
    seen and where its motion would have taken it by now. A person who left is not
    looked for at their last place until their track ends, only for a moment."""
    return [
        span(t.face.box, t.predicted_box(monotonic))
        for t in tracks
        if monotonic - t.last_seen.monotonic <= TRACK_GRACE
    ]
