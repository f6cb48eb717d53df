"""What the status page shows, handed over by the frame loop and read by the web server.

The frame loop calls :meth:`LiveView.offer` once per processed frame (and
:meth:`LiveView.update` when the source had none). That call costs a
few list operations: it keeps a reference to the frame only while someone watches the
stream, and refreshes the health figures (read in the frame loop, where the stage timers
live) once a second only while someone looks at the page. JPEG encoding happens in the
viewers' threads, once per frame however many viewers there are, scaled down and at
``web.fps`` at most; nobody watching, nothing is encoded. Nothing here touches the disk.
"""

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np

from maskwatch.core.config import PipelineConfig, WebConfig
from maskwatch.tracking.events import iso_utc
from maskwatch.tracking.tracker import Track, TrackEvent
from maskwatch.vision.pipeline import FULL_FRAME, Face

RECENT_EVENTS = 20
HEALTH_EVERY = 1.0  # seconds between health refreshes while the page is open
PAGE_OPEN_FOR = 5.0  # seconds after its last status request a page counts as open
HOT_CPU_C = 80.0  # a Pi throttles its clock from here
JPEG_QUALITY = 75
COLOURS = {"mask": (80, 200, 60), "no_mask": (40, 40, 230), "mask_incorrect": (0, 165, 255)}  # BGR
UNCONFIRMED = (200, 200, 200)
ROI_COLOUR = (0, 215, 255)


@dataclass(frozen=True)
class Person:
    """One face of the frame as drawn: what the classifier says of it now, and its track."""

    box: tuple[int, int, int, int]
    label: str
    score: float
    track_id: int
    confirmed: bool  # the track has had its "new" event


def people_in(faces: list[Face], tracks: list[Track]) -> list[Person]:
    """The frame's faces with the tracks the tracker linked them to."""
    by_face = {id(t.face): t for t in tracks}
    return [
        Person(face.box, face.label, face.score, track.track_id, track.label is not None)
        for face in faces
        if (track := by_face.get(id(face))) is not None
    ]


def event_line(event: TrackEvent, now: float) -> dict:
    return {"time": iso_utc(now), "type": event.kind, "track_id": event.track.track_id,
            "label": event.label, "score": round(event.track.score, 2)}  # fmt: skip


def degraded(health: dict) -> list[str]:
    """What is wrong with the daemon now, one plain sentence each."""
    problems = []
    if not health.get("broker_connected", True):
        problems.append(
            f"broker unreachable: {health['queue_depth']} events wait in the queue"
        )  # fmt: skip
    if health.get("camera_reopening"):
        problems.append(f"camera: {health['source']}")
    if health.get("queue_overflowed"):
        problems.append(f"queue full: {health['queue_overflowed']} oldest events dropped")
    queue = health.get("queue") or {}
    if queue.get("state") == "memory":
        problems.append(f"events held in memory only: {queue['reason']}")
    if queue.get("lost"):
        problems.append(f"{queue['lost']} events lost while the card took no writes")
    temperature = health.get("cpu_temp_c")
    if temperature is not None and temperature >= HOT_CPU_C:
        problems.append(f"CPU at {temperature:.0f} °C: the Pi slows down to cool off")
    return problems


def draw(image: np.ndarray, people: list[Person], pipeline: PipelineConfig, width: int
         ) -> np.ndarray:  # fmt: skip
    """A scaled-down copy of ``image`` with the ROI, the minimum face size and the people."""
    height, full_width = image.shape[:2]
    scale = min(1.0, width / full_width)
    if scale < 1.0:
        size = (round(full_width * scale), round(height * scale))
        view = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    else:
        view = image.copy()
    shown_h, shown_w = view.shape[:2]
    if tuple(pipeline.roi) != FULL_FRAME:
        left, top, right, bottom = pipeline.roi
        corner = (round(left * shown_w), round(top * shown_h))
        cv2.rectangle(view, corner, (round(right * shown_w) - 1, round(bottom * shown_h) - 1),
                      ROI_COLOUR, 2)  # fmt: skip
        label(view, "region of interest", corner, ROI_COLOUR, below=True)
    if pipeline.min_face:
        side = max(2, round(pipeline.min_face * scale))
        origin = (6, shown_h - 6 - side)
        cv2.rectangle(view, origin, (6 + side, shown_h - 6), ROI_COLOUR, 1)
        label(view, f"min face {pipeline.min_face} px", origin, ROI_COLOUR)
    for person in people:
        x1, y1, x2, y2 = (round(v * scale) for v in person.box)
        # Grey and thin until the track is confirmed (its "new" event sent).
        colour = COLOURS.get(person.label, UNCONFIRMED) if person.confirmed else UNCONFIRMED
        cv2.rectangle(view, (x1, y1), (x2, y2), colour, 2 if person.confirmed else 1)
        text = f"#{person.track_id} {person.label} {person.score:.2f}"
        label(view, text, (x1, y1), colour)
    return view


def label(view: np.ndarray, text: str, corner: tuple[int, int], colour: tuple, below: bool = False
          ) -> None:  # fmt: skip
    """``text`` on a filled strip just above (or inside, ``below``) ``corner``."""
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
    x, y = corner
    top = y + 2 if below or y - h - base - 4 < 0 else y - h - base - 4
    cv2.rectangle(view, (x, top), (x + w + 6, top + h + base + 4), colour, -1)
    cv2.putText(view, text, (x + 3, top + h + 2), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                cv2.LINE_AA)  # fmt: skip


class LiveView:
    def __init__(self, web: WebConfig, pipeline: PipelineConfig) -> None:
        self.web, self.pipeline = web, pipeline
        self.health: Callable[[], dict] = dict  # set by the daemon: read in the frame loop
        self.frames = 0  # frames offered since the start
        self.encodes = 0  # JPEGs made for viewers since the start
        self._changed = threading.Condition()
        self._encoding = threading.Lock()
        self._viewers = 0
        self._closed = False
        self._seq = 0
        self._frame: tuple[np.ndarray, list[Person]] | None = None
        self._frame_size = (0, 0)
        self._jpeg: tuple[int, bytes] = (0, b"")
        self._ticks: deque[float] = deque(maxlen=30)
        self._events: deque[dict] = deque(maxlen=RECENT_EVENTS)
        self._health: dict | None = None
        self._next_health = 0.0
        self._page_seen = float("-inf")

    # the frame loop --------------------------------------------------------------------

    def offer(self, image: np.ndarray, faces: list[Face], tracks: list[Track],
              events: list[TrackEvent]) -> None:  # fmt: skip
        self.frames += 1
        self._ticks.append(time.monotonic())
        self._frame_size = (image.shape[1], image.shape[0])
        if self._viewers:
            people = people_in(faces, tracks)
            with self._changed:
                self._frame, self._seq = (image, people), self._seq + 1
                self._changed.notify_all()
        self.update(tracks, events)

    def update(self, tracks: list[Track], events: list[TrackEvent]) -> None:
        """Events and health, with or without a frame: the tracks a stalled camera ends,
        a camera being reopened, reach the page too."""
        if events:
            wall = time.time()
            with self._changed:
                self._events.extendleft(event_line(e, wall) for e in events)
        now = time.monotonic()
        if now - self._page_seen < PAGE_OPEN_FOR and now >= self._next_health:
            self._next_health = now + HEALTH_EVERY
            self._health = {**self.health(), "in_view": dict(Counter(
                t.label for t in tracks if t.label is not None))}  # fmt: skip

    # the web server's threads ----------------------------------------------------------

    def status(self) -> dict:
        """The page's figures; asking for them keeps the health figures fresh a while."""
        self._page_seen = time.monotonic()
        ticks = list(self._ticks)
        span = ticks[-1] - ticks[0] if len(ticks) > 1 else 0.0
        with self._changed:
            events = list(self._events)
        health = self._health or {}
        return {
            "frames": self.frames,
            "fps": round((len(ticks) - 1) / span, 1) if span else 0.0,
            "frame": list(self._frame_size),
            "roi": list(self.pipeline.roi),
            "min_face": self.pipeline.min_face,
            "health": health,
            "degraded": degraded(health),
            "events": events,
            "stream": {"viewers": self._viewers, "encodes": self.encodes},
        }

    @contextmanager
    def viewer(self) -> Iterator[None]:
        """One stream client, from its request until it leaves."""
        with self._changed:
            self._viewers += 1
        try:
            yield
        finally:
            with self._changed:
                self._viewers -= 1
                if not self._viewers:  # nobody watches: hold no picture
                    self._frame, self._jpeg = None, (0, b"")

    def next_jpeg(self, after: int, timeout: float) -> tuple[int, bytes] | None:
        """The newest frame after number ``after`` as an annotated JPEG (shared by all
        viewers: encoded once), or None after ``timeout`` seconds or once closed."""
        with self._changed:
            ready = self._changed.wait_for(
                lambda: self._closed or (self._frame is not None and self._seq > after), timeout
            )
            if not ready or self._closed:
                return None
            seq, (image, people) = self._seq, self._frame
        with self._encoding:
            if self._jpeg[0] != seq:
                view = draw(image, people, self.pipeline, self.web.width)
                ok, data = cv2.imencode(".jpg", view, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                self._jpeg = (seq, data.tobytes() if ok else b"")
                self.encodes += 1
            return self._jpeg

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()
