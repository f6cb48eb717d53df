"""The daemon's configuration: one TOML file, validated into typed dataclasses.

Values come from, in rising precedence: the defaults here, the TOML file, environment
variables ``MASKWATCH__SECTION__KEY`` (``MASKWATCH__DEVICE_ID`` for top-level keys), and
``--set section.key=value``. Every error names the key, what was expected and what was
found, and exits 78 (:class:`ConfigError`). Paths in the file are relative to the file;
paths from the environment or ``--set`` are relative to the working directory.

Over 400 lines on purpose: one schema for every section of the file, so defaults and
validation live in one place and every error names its key (the design's config as
typed models).
"""

import dataclasses
import ipaddress
import logging
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from maskwatch.core.errors import ConfigError
from maskwatch.core.labels import DEFAULT_MASK_MIN_SCORE

SOURCE_KINDS = ("images", "video", "capture", "picamera2")
SNAPSHOT_KINDS = ("face", "frame")
ENV_PREFIX = "MASKWATCH__"
RUNTIMES = ("auto", "ai-edge-litert", "tflite-runtime")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Upper bounds: beyond them a value is a typo, or breaks what it is handed to.
HOUR, DAY = 3600.0, 86400.0  # the longest wait, and the longest stats interval, in seconds
MAX_PIXELS = 8192  # an 8K frame's side
MAX_FPS = 120.0
MAX_THREADS = 64
MAX_FRAMES = 10_000  # frame counts of tracking
MAX_SHIFT = 100.0  # face widths
MQTT_MAX_KEEPALIVE = 65535  # CONNECT's 16-bit field: paho's thread dies on more
MQTT_MAX_WINDOW = 65535  # 16-bit packet ids
MAX_QUEUED = 10_000_000  # events on the card, some 5 GB
MAX_HELD = 100_000  # events in memory, some 50 MB of the unit's MemoryMax=256M
MAX_QUEUE_MB = 1_000_000.0
TOPIC_LEVELS = re.compile(r"[^#+\s\x00/$][^#+\s\x00/]*(/[^#+\s\x00/]+)*")


@dataclass(frozen=True)
class BundleConfig:
    path: Path = Path("bundle")


@dataclass(frozen=True)
class SourceConfig:
    kind: str = "images"  # images | video | capture | picamera2
    path: Path = Path("frames")  # images: a folder or a glob; video: a file
    device: str = "0"  # capture: a camera index (/dev/videoN) or an rtsp:// http:// URL
    width: int = 0  # capture / picamera2 frame size; 0 = the camera's default
    height: int = 0
    loop: bool = False
    interval: float = 0.0  # seconds between frames of a folder; 0 = as fast as processed
    reopen_max: float = 30.0  # longest wait between attempts to reopen a failed camera
    max_fps: float = 0.0  # process at most this many frames a second; 0 = every frame

    def validate(self) -> None:
        _choice("source.kind", self.kind, SOURCE_KINDS)
        _within("source.max_fps", self.max_fps, 0.0, MAX_FPS)
        _within("source.width", self.width, 0, MAX_PIXELS)
        _within("source.height", self.height, 0, MAX_PIXELS)
        _within("source.interval", self.interval, 0.0, HOUR)
        _within("source.reopen_max", self.reopen_max, 0.1, HOUR)
        if self.kind == "picamera2" and not (self.width and self.height):
            raise ConfigError(
                "config key source.width / source.height: picamera2 needs a frame size, "
                "found 0; set e.g. width = 1280, height = 720"
            )


@dataclass(frozen=True)
class PipelineConfig:
    threads: int = 1
    runtime: str = "auto"
    min_face: int = 0  # ignore detected faces narrower than this, in pixels
    detector_score: float = 0.0  # 0 = the bundle's detector threshold
    # Full-frame detection passes (motion off, the motion heartbeat, and the fallback when
    # regions would cost as much as the whole frame) shrink the frame to this longest side
    # (crops still come from the full frame); 0 = the bundle's. Motion regions are detected
    # at native resolution up to motion.region_size instead, so a door's far faces need no
    # bigger pass, and a 480 pass made a busy door cost 1.5x the old daemon (docs/motion.md).
    # With motion off, 480 finds 84% of masked and 95% of unmasked test faces (320: 67% /
    # 74%; 640: 93% / 96%) at 2.2x the cost of 320 (docs/detector.md).
    detector_max_side: int = 320
    # Calibrated classifier probability below which a face is followed but does not vote:
    # the training's validation split (models/metrics.json, calibration.min_label_score).
    min_label_score: float = 0.75
    # The operating point: a face is called masked only when P(mask) is at least this;
    # below it, it gets the likelier of the other labels and votes for it (the alarm).
    mask_min_score: float = DEFAULT_MASK_MIN_SCORE
    roi: tuple[float, ...] = (0.0, 0.0, 1.0, 1.0)  # left, top, right, bottom; frame fractions

    def validate(self) -> None:
        _within("pipeline.threads", self.threads, 1, MAX_THREADS)
        _choice("pipeline.runtime", self.runtime, RUNTIMES)
        _within("pipeline.min_face", self.min_face, 0, MAX_PIXELS)
        _fraction("pipeline.detector_score", self.detector_score)
        if self.detector_max_side and not 64 <= self.detector_max_side <= MAX_PIXELS:
            raise ConfigError(
                "config key pipeline.detector_max_side: expected 0 (the bundle's) or "
                f"64..{MAX_PIXELS} pixels, found {self.detector_max_side}"
            )
        _fraction("pipeline.min_label_score", self.min_label_score)
        _fraction("pipeline.mask_min_score", self.mask_min_score)
        left, top, right, bottom = self.roi if len(self.roi) == 4 else (0, 0, -1, -1)
        if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
            raise ConfigError(
                "config key pipeline.roi: expected [left, top, right, bottom] as fractions "
                f"of the frame with left < right and top < bottom, found {list(self.roi)}"
            )


@dataclass(frozen=True)
class MotionConfig:
    """Motion gating: the detector runs only where something moves or someone is tracked."""

    enabled: bool = True
    frame_height: int = 100  # rows of the small grey frame the background is kept on
    threshold: int = 30  # grey-level difference from the background that counts as change
    contour_area: int = 10  # smallest moving blob, in pixels of the small frame
    alpha: float = 0.02  # how fast the background follows the picture, per frame
    global_change: float = 0.5  # share of the picture changed at once that resets the background
    heartbeat: float = 5.0  # seconds between full-frame passes without motion; 0 = never
    region_size: int = 320  # regions are detected at native resolution up to this side
    # Areas whose motion is ignored (a TV, a tree, a road): polygons as flat lists of
    # x, y frame fractions, e.g. [[0.8, 0.0, 1.0, 0.0, 1.0, 0.3, 0.8, 0.3]].
    mask: tuple[tuple[float, ...], ...] = ()

    def validate(self) -> None:
        _within("motion.frame_height", self.frame_height, 32, MAX_PIXELS)
        if not 1 <= self.threshold <= 255:
            raise ConfigError(
                f"config key motion.threshold: expected 1..255, found {self.threshold}"
            )
        _within("motion.contour_area", self.contour_area, 1, MAX_PIXELS**2)
        if not 0.0 < self.alpha <= 1.0:
            raise ConfigError(f"config key motion.alpha: expected 0..1, found {self.alpha}")
        if not 0.0 < self.global_change <= 1.0:
            raise ConfigError(
                f"config key motion.global_change: expected 0..1, found {self.global_change}"
            )
        _within("motion.heartbeat", self.heartbeat, 0.0, HOUR)
        _within("motion.region_size", self.region_size, 64, MAX_PIXELS)
        for index, polygon in enumerate(self.mask):
            points = len(polygon) // 2
            if len(polygon) % 2 or points < 3 or not all(0.0 <= v <= 1.0 for v in polygon):
                raise ConfigError(
                    f"config key motion.mask[{index}]: expected at least 3 x, y pairs of frame "
                    f"fractions (0..1), found {list(polygon)}"
                )


@dataclass(frozen=True)
class TrackingConfig:
    confirm_frames: int = 3  # frames a face must be seen before its "new" event
    vote_window: int = 5  # recent frames whose labels vote on a track's label
    end_after: float = 2.0  # seconds unseen before a person leaves the counts
    # ... and then this long again before their "end": found again by then (where they
    # could have walked, in the same clothes), they are the same visit, not a second "new".
    return_within: float = 3.0
    min_iou: float = 0.3  # overlap that links a face to a track
    # Failing that, how far (in face widths) a face's centre may be from where its person
    # was or was heading and still be theirs; 0 = overlap only.
    max_shift: float = 1.0
    # A person's face is classified on their first classify_first frames, then every
    # classify_every-th frame (1 = every frame), or when its box overlaps the last
    # classified one less than reclassify_iou (edge/tracking/schedule.py).
    classify_first: int = 3
    classify_every: int = 5
    reclassify_iou: float = 0.5

    def validate(self) -> None:
        _within("tracking.classify_first", self.classify_first, 1, MAX_FRAMES)
        _within("tracking.classify_every", self.classify_every, 1, MAX_FRAMES)
        _fraction("tracking.reclassify_iou", self.reclassify_iou)
        _within("tracking.confirm_frames", self.confirm_frames, 1, MAX_FRAMES)
        _within("tracking.vote_window", self.vote_window, 1, MAX_FRAMES)
        _within("tracking.end_after", self.end_after, 0.0, HOUR)
        _within("tracking.return_within", self.return_within, 0.0, HOUR)
        _within("tracking.max_shift", self.max_shift, 0.0, MAX_SHIFT)
        if not 0.0 < self.min_iou <= 1.0:
            raise ConfigError(f"config key tracking.min_iou: expected 0..1, found {self.min_iou}")


@dataclass(frozen=True)
class MqttConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    topic_prefix: str = "maskwatch"
    client_id: str = ""  # empty: maskwatch-<device_id>
    keepalive: int = 30
    qos: int = 1
    username: str = ""
    # The password never sits in this file: it is read from password_file, else the
    # systemd credential "mqtt_password", else the environment variable MASKWATCH_MQTT_PASSWORD.
    password_file: Path | None = None
    tls: bool = False
    tls_ca: Path | None = None  # CA bundle; unset = the system's trusted CAs
    tls_cert: Path | None = None  # client certificate (and key) for brokers that require one
    tls_key: Path | None = None
    reconnect_max: float = 30.0  # longest wait between reconnect attempts, seconds
    stats_interval: float = 60.0  # seconds between stats messages
    window: int = 20  # events sent but not yet acknowledged, at most
    # The no_mask alarm (topic no_mask, Home Assistant's "Unmasked person") is ON while
    # anyone is unmasked, and, unless this is false, while anyone wears a mask wrongly.
    alarm_on_mask_incorrect: bool = True

    def validate(self) -> None:
        if not self.host:
            raise ConfigError("config key mqtt.host: expected a host name, found an empty string")
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"config key mqtt.port: expected 1..65535, found {self.port}")
        _topic("mqtt.topic_prefix", self.topic_prefix)
        _within("mqtt.keepalive", self.keepalive, 5, MQTT_MAX_KEEPALIVE)
        _choice("mqtt.qos", self.qos, (0, 1, 2))
        _within("mqtt.reconnect_max", self.reconnect_max, 1.0, HOUR)
        _within("mqtt.stats_interval", self.stats_interval, 0.1, DAY)
        _within("mqtt.window", self.window, 1, MQTT_MAX_WINDOW)
        if (self.tls_ca or self.tls_cert) and not self.tls:
            raise ConfigError("config key mqtt.tls: expected true when tls_ca or tls_cert is set")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("config key mqtt.tls_cert / mqtt.tls_key: set both or neither")


@dataclass(frozen=True)
class HomeAssistantConfig:
    discovery: bool = True  # false removes the entities this device announced
    prefix: str = "homeassistant"

    def validate(self) -> None:
        _topic("homeassistant.prefix", self.prefix)


@dataclass(frozen=True)
class SnapshotConfig:
    """A JPEG of each new person on its own topic. Off by default: faces are personal data."""

    enabled: bool = False
    kind: str = "face"  # face (the crop) | frame (the whole picture)
    quality: int = 80

    def validate(self) -> None:
        _choice("snapshot.kind", self.kind, SNAPSHOT_KINDS)
        if not 1 <= self.quality <= 100:
            raise ConfigError(f"config key snapshot.quality: expected 1..100, found {self.quality}")


@dataclass(frozen=True)
class QueueConfig:
    path: Path | None = None  # unset: $STATE_DIRECTORY/events.sqlite3, else ./state/
    max_events: int = 10000
    memory_events: int = 1000  # held in memory while the card takes no writes
    retry_interval: float = 30.0  # seconds between attempts to write to the card again
    max_mb: float = 0.0  # the most the queue file may take; 0 = no limit

    def validate(self) -> None:
        _within("queue.max_events", self.max_events, 1, MAX_QUEUED)
        _within("queue.memory_events", self.memory_events, 1, MAX_HELD)
        _within("queue.retry_interval", self.retry_interval, 0.1, HOUR)
        _within("queue.max_mb", self.max_mb, 0.0, MAX_QUEUE_MB)

    @property
    def file(self) -> Path:
        if self.path is not None:
            return self.path
        state = os.environ.get("STATE_DIRECTORY", "state").split(":")[0]
        return Path(state).resolve() / "events.sqlite3"


@dataclass(frozen=True)
class ClockConfig:
    trusted: bool = False  # the wall clock is right from boot (an RTC, chrony, ntpd)


@dataclass(frozen=True)
class LogConfig:
    level: str = "INFO"

    def validate(self) -> None:
        _choice("log.level", self.level, LOG_LEVELS)


@dataclass(frozen=True)
class WebConfig:
    """The status page for aiming the camera. Off by default; a password off loopback."""

    enabled: bool = False
    listen: str = "127.0.0.1:8080"  # HOST:PORT, HOST an IP address or localhost
    # Needed when listen is not a loopback address. Like the broker's, it is never in this
    # file: password_file, else the systemd credential "web_password", else the
    # environment variable MASKWATCH_WEB_PASSWORD.
    password_file: Path | None = None
    fps: float = 4.0  # live view frames per second, at most
    width: int = 640  # live view width in pixels, at most (frames are scaled down only)
    # HTTPS: a PEM certificate, and its key unless the certificate file holds it. Without
    # them the page is plain HTTP, and its password crosses the network readable.
    certfile: Path | None = None
    keyfile: Path | None = None

    def validate(self) -> None:
        self.address  # noqa: B018  (parses listen, naming the key when it is wrong)
        if self.keyfile and not self.certfile:
            raise ConfigError("config key web.keyfile: set web.certfile too (the certificate)")
        if not 0.5 <= self.fps <= 15:
            raise ConfigError(f"config key web.fps: expected 0.5..15, found {self.fps}")
        _within("web.width", self.width, 160, MAX_PIXELS)

    @property
    def address(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        try:
            if host != "localhost":
                ipaddress.ip_address(host)
            if not 1 <= int(port) <= 65535:
                raise ValueError(port)
        except ValueError:
            raise ConfigError(
                "config key web.listen: expected HOST:PORT with HOST an IP address or "
                f"localhost (127.0.0.1:8080, 0.0.0.0:8080, [::1]:8080), found {self.listen!r}"
            ) from None
        return host, int(port)

    @property
    def loopback(self) -> bool:
        """Reachable from this machine only (and through an ``ssh -L`` tunnel)."""
        host = self.address[0]
        return host == "localhost" or ipaddress.ip_address(host).is_loopback


@dataclass(frozen=True)
class FleetConfig:
    """A device of a fleet (docs/fleet.md): signed bundles rolled out over MQTT, and a
    retained health topic. Off: one Pi, as before."""

    enabled: bool = False
    site: str = ""  # where the device is, as the fleet view shows it
    group: str = ""  # "canary": gets a roll-out first
    public_key: str = ""  # the fleet's ed25519 public key, base64 ('maskwatch fleet keygen')
    store: Path | None = None  # bundles rolled out; unset: $STATE_DIRECTORY/bundles
    bundle_topic: str = "maskwatch-fleet/bundles"  # where signed bundles are published
    trial_seconds: float = 180.0  # a new bundle must process frames this long to be kept
    stall_seconds: float = 60.0  # no frame this long during the trial: roll back
    health_interval: float = 60.0  # seconds between retained health messages

    def validate(self) -> None:
        if self.enabled and not self.public_key:
            raise ConfigError(
                "config key fleet.public_key: expected the fleet's public key (base64) when "
                "fleet.enabled is true; 'maskwatch fleet keygen' makes it"
            )
        _within("fleet.trial_seconds", self.trial_seconds, 1.0, HOUR)
        _within("fleet.stall_seconds", self.stall_seconds, 1.0, HOUR)
        _within("fleet.health_interval", self.health_interval, 1.0, HOUR)

    @property
    def store_dir(self) -> Path:
        if self.store is not None:
            return self.store
        state = os.environ.get("STATE_DIRECTORY", "state").split(":")[0]
        return Path(state).resolve() / "bundles"


@dataclass(frozen=True)
class Config:
    device_id: str = "maskwatch"
    bundle: BundleConfig = field(default_factory=BundleConfig)
    source: SourceConfig = field(default_factory=SourceConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    homeassistant: HomeAssistantConfig = field(default_factory=HomeAssistantConfig)
    snapshot: SnapshotConfig = field(default_factory=SnapshotConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)
    clock: ClockConfig = field(default_factory=ClockConfig)
    log: LogConfig = field(default_factory=LogConfig)
    web: WebConfig = field(default_factory=WebConfig)
    fleet: FleetConfig = field(default_factory=FleetConfig)

    @property
    def device_slug(self) -> str:
        """The device id as MQTT topics and Home Assistant ids accept it."""
        return re.sub(r"[^a-zA-Z0-9_-]+", "_", self.device_id).strip("_") or "maskwatch"

    @property
    def log_level(self) -> int:
        return logging.getLevelName(self.log.level)


PATH_KEYS = (
    ("bundle", "path"),
    ("source", "path"),
    ("queue", "path"),
    ("mqtt", "password_file"),
    ("mqtt", "tls_ca"),
    ("mqtt", "tls_cert"),
    ("mqtt", "tls_key"),
    ("web", "password_file"),
    ("web", "certfile"),
    ("web", "keyfile"),
    ("fleet", "store"),
)


def _choice(key: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        expected = ", ".join(repr(c) for c in choices)
        raise ConfigError(f"config key {key}: expected one of {expected}, found {value!r}")


def _fraction(key: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"config key {key}: expected 0..1, found {value}")


def _within(key: str, value: float, low: float, high: float) -> None:
    if value < low:
        raise ConfigError(f"config key {key}: expected at least {low}, found {value}")
    if value > high:
        raise ConfigError(f"config key {key}: expected at most {high}, found {value}")


def _topic(key: str, value: str) -> None:
    """MQTT topic levels a publish accepts: no wildcard, NUL, space or empty level, and no
    leading ``$`` (the broker's own topics)."""
    if not TOPIC_LEVELS.fullmatch(value):
        raise ConfigError(
            f"config key {key}: expected topic levels separated by '/' without '+', '#', "
            f"NUL or spaces, not starting with '$', found {value!r}"
        )


def _finite(key: str, value: float) -> float:
    if not math.isfinite(value):
        raise ConfigError(f"config key {key}: expected a finite number, found {value}")
    return value


def _convert(key: str, value: Any, kind: Any) -> Any:
    expected = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    if kind == Path | None:
        kind = Path
    if kind == tuple[tuple[float, ...], ...]:
        if not isinstance(value, list):
            raise ConfigError(f"config key {key}: expected a list of lists, found {value!r}")
        return tuple(
            _convert(f"{key}[{i}]", item, tuple[float, ...]) for i, item in enumerate(value)
        )
    if kind == tuple[float, ...]:
        if not isinstance(value, list):
            raise ConfigError(f"config key {key}: expected a list of numbers, found {value!r}")
        return tuple(_convert(key, item, float) for item in value)
    if kind is Path:
        if isinstance(value, str) and value:
            return Path(value)
        raise ConfigError(f"config key {key}: expected a path string, found {value!r}")
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is float and ok:
        return _finite(key, value)
    if not ok:
        found = f"{value!r} ({type(value).__name__})"
        raise ConfigError(f"config key {key}: expected {expected[kind]}, found {found}")
    return value


def _build(cls: type, data: dict, prefix: str) -> Any:
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            known = ", ".join(sorted(prefix + n for n in names))
            raise ConfigError(f"config key {prefix}{key}: unknown key; known keys: {known}")
    values = {}
    for name in names & data.keys():
        kind, value, key = hints[name], data[name], prefix + name
        if dataclasses.is_dataclass(kind):
            if not isinstance(value, dict):
                raise ConfigError(f"config key {key}: expected a [{key}] table, found {value!r}")
            values[name] = _build(kind, value, f"{key}.")
        else:
            values[name] = _convert(key, value, kind)
    instance = cls(**values)
    if hasattr(instance, "validate"):
        instance.validate()
    return instance


def parse_override(text: str) -> tuple[list[str], Any]:
    """``section.key=value``; the value is read as TOML, else taken as a plain string."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r}: expected section.key=value")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip().split("."), value


def _resolve_paths(data: dict, base: Path) -> None:
    for section, key in PATH_KEYS:
        table = data.get(section)
        if isinstance(table, dict) and isinstance(table.get(key), str) and table[key]:
            table[key] = str((base / table[key]).resolve())


def environment_overrides(environ: dict[str, str]) -> list[str]:
    """``MASKWATCH__MQTT__HOST=broker`` becomes the override ``mqtt.host=broker``."""
    return [
        f"{name[len(ENV_PREFIX) :].lower().replace('__', '.')}={value}"
        for name, value in sorted(environ.items())
        if name.startswith(ENV_PREFIX)
    ]


def load_config(
    path: Path | None, overrides: list[str] = (), environ: dict[str, str] | None = None
) -> Config:
    """Read ``path`` (or only defaults), apply environment then ``--set`` overrides, validate."""
    environ = os.environ if environ is None else environ
    data: dict = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found; pass --config FILE") from None
        except IsADirectoryError:
            raise ConfigError(f"{path}: is a folder; pass the TOML file, --config FILE") from None
        except OSError as error:
            raise ConfigError(f"{path}: cannot read the config file ({error.strerror})") from None
        except UnicodeDecodeError as error:
            raise ConfigError(
                f"{path}: not UTF-8 text (byte {error.start}); save the config as UTF-8"
            ) from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: not valid TOML ({error})") from None
        _resolve_paths(data, path.parent)
    for text in [*environment_overrides(environ), *overrides]:
        keys, value = parse_override(text)
        table = data
        for part in keys[:-1]:
            table = table.setdefault(part, {})
            if not isinstance(table, dict):
                raise ConfigError(f"override {text!r}: {part} is not a table")
        if tuple(keys) in PATH_KEYS and isinstance(value, str) and value:
            value = str(Path(value).resolve())
        table[keys[-1]] = value
    return _build(Config, data, "")
