"""The daemon's configuration: one TOML file, validated into typed dataclasses.

Every error names the key, what was expected and what was found, and exits 78
(:class:`ConfigError`). Paths in the file are relative to the file; paths given
as ``--set`` overrides are relative to the working directory.
"""

import dataclasses
import logging
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from edge.errors import ConfigError

SOURCE_KINDS = ("images", "video")
RUNTIMES = ("auto", "ai-edge-litert", "tflite-runtime")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True)
class BundleConfig:
    path: Path = Path("bundle")


@dataclass(frozen=True)
class SourceConfig:
    kind: str = "images"
    path: Path = Path("frames")
    loop: bool = False
    interval: float = 0.0  # seconds between frames of a folder; 0 = as fast as processed

    def validate(self) -> None:
        _choice("source.kind", self.kind, SOURCE_KINDS)
        _at_least("source.interval", self.interval, 0.0)


@dataclass(frozen=True)
class PipelineConfig:
    threads: int = 1
    runtime: str = "auto"
    min_face: int = 0  # ignore detected faces narrower than this, in pixels

    def validate(self) -> None:
        _at_least("pipeline.threads", self.threads, 1)
        _choice("pipeline.runtime", self.runtime, RUNTIMES)
        _at_least("pipeline.min_face", self.min_face, 0)


@dataclass(frozen=True)
class TrackingConfig:
    confirm_frames: int = 3  # frames a face must be seen before its "new" event
    vote_window: int = 5  # recent frames whose labels vote on a track's label
    end_after: float = 2.0  # seconds unseen before a track's "end" event
    min_iou: float = 0.3  # overlap that links a face to a track

    def validate(self) -> None:
        _at_least("tracking.confirm_frames", self.confirm_frames, 1)
        _at_least("tracking.vote_window", self.vote_window, 1)
        _at_least("tracking.end_after", self.end_after, 0.0)
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

    def validate(self) -> None:
        if not self.host:
            raise ConfigError("config key mqtt.host: expected a host name, found an empty string")
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"config key mqtt.port: expected 1..65535, found {self.port}")
        if not re.fullmatch(r"[^#+\s]+(/[^#+\s]+)*", self.topic_prefix):
            raise ConfigError(
                f"config key mqtt.topic_prefix: expected topic levels without '#', '+' or "
                f"spaces, found {self.topic_prefix!r}"
            )
        _at_least("mqtt.keepalive", self.keepalive, 5)
        _choice("mqtt.qos", self.qos, (0, 1, 2))


@dataclass(frozen=True)
class LogConfig:
    level: str = "INFO"

    def validate(self) -> None:
        _choice("log.level", self.level, LOG_LEVELS)


@dataclass(frozen=True)
class Config:
    device_id: str = "maskwatch"
    bundle: BundleConfig = field(default_factory=BundleConfig)
    source: SourceConfig = field(default_factory=SourceConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    log: LogConfig = field(default_factory=LogConfig)

    @property
    def device_slug(self) -> str:
        """The device id as MQTT topics and Home Assistant ids accept it."""
        return re.sub(r"[^a-zA-Z0-9_-]+", "_", self.device_id).strip("_") or "maskwatch"

    @property
    def log_level(self) -> int:
        return logging.getLevelName(self.log.level)


PATH_KEYS = (("bundle", "path"), ("source", "path"))


def _choice(key: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        expected = ", ".join(repr(c) for c in choices)
        raise ConfigError(f"config key {key}: expected one of {expected}, found {value!r}")


def _at_least(key: str, value: float, minimum: float) -> None:
    if value < minimum:
        raise ConfigError(f"config key {key}: expected at least {minimum}, found {value}")


def _convert(key: str, value: Any, kind: type) -> Any:
    expected = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    if kind is Path:
        if isinstance(value, str) and value:
            return Path(value)
        raise ConfigError(f"config key {key}: expected a path string, found {value!r}")
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
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


def load_config(path: Path | None, overrides: list[str] = ()) -> Config:
    """Read ``path`` (or only defaults), apply ``section.key=value`` overrides, validate."""
    data: dict = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found; pass --config FILE") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: not valid TOML ({error})") from None
        _resolve_paths(data, path.parent)
    for text in overrides:
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
