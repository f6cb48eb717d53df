"""A fleet device's roll-out agent: it takes the admin's retained ``command`` (a bundle
offer), downloads the bundle (a URL, or the retained MQTT chunks), checks its size, its
sha256 and the fleet key's signature, unpacks it beside the running one and asks for a
restart onto it. Every step and every refusal is reported, retained, on the device's
``rollout`` topic; a refused bundle leaves the running one as it is.
"""

import hashlib
import json
import logging
import queue
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from maskwatch.core.bundle_store import BundleStore
from maskwatch.core.config import Config
from maskwatch.core.errors import ConfigError, MaskwatchError
from maskwatch.core.fleet_plan import BundleOffer, DeviceTopics, chunk_topic
from maskwatch.core.signing import SignatureError, public_key_from_text, verify
from maskwatch.publish.fleet_link import FleetLink
from maskwatch.publish.mqtt import read_password
from maskwatch.tracking.events import iso_utc

log = logging.getLogger(__name__)

DOWNLOAD_SECONDS = 120.0  # a download that makes no progress this long has failed
FACTORY = "factory"  # the version name of the bundle the card came with


class DownloadError(MaskwatchError):
    """The bundle could not be fetched whole."""


def fetch_url(offer: BundleOffer) -> bytes:
    try:
        with urllib.request.urlopen(offer.url, timeout=30) as response:  # noqa: S310 (admin's URL)
            return response.read(offer.size + 1)
    except (urllib.error.URLError, OSError) as error:
        raise DownloadError(f"bundle {offer.version}: cannot fetch {offer.url} ({error})") from None


def check_download(offer: BundleOffer, data: bytes) -> None:
    """A whole download with the offer's sha256, each refusal one line saying which."""
    if len(data) < offer.size:
        raise DownloadError(f"bundle {offer.version}: truncated download, {len(data)} of "
                            f"{offer.size} bytes")  # fmt: skip
    found = hashlib.sha256(data).hexdigest()
    if len(data) != offer.size or found != offer.sha256:
        raise DownloadError(f"bundle {offer.version}: sha256 {found[:12]}... does not match "
                            f"the offer's {offer.sha256[:12]}...")  # fmt: skip


class FleetAgent:
    def __init__(self, config: Config, store: BundleStore, restart: Callable[[], None]) -> None:
        """``restart``: called once a new bundle is on trial, to start the daemon on it."""
        self.config = config
        self.store = store
        self.topics = DeviceTopics.of(config.mqtt.topic_prefix, config.device_slug)
        try:
            self.key = public_key_from_text(config.fleet.public_key, "config key fleet.public_key")
        except SignatureError as error:
            raise ConfigError(str(error)) from None  # exit 78: restarting cannot fix it
        self._restart = restart
        self._commands: queue.Queue[bytes] = queue.Queue()
        self._chunks: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._report: dict = {}
        self.link = FleetLink(config.mqtt, f"maskwatch-{config.device_slug}-fleet",
                              read_password(config.mqtt))  # fmt: skip
        self.link.on_message = self._on_message
        self._closing = threading.Event()
        self._worker = threading.Thread(target=self._work, name="fleet-agent", daemon=True)

    @property
    def running(self) -> str:
        return self.store.state.current or FACTORY

    def start(self) -> None:
        self.link.subscribe(self.topics.command)
        self.link.start()
        self._worker.start()

    def close(self) -> None:
        self._closing.set()
        self._commands.put(b"")
        self._worker.join(timeout=2)
        self.link.close()

    def report(self, state: str, version: str = "", reason: str = "") -> None:
        """Retained on ``rollout``: what runs, and where the newest roll-out stands."""
        self._report = {"running": self.running, "state": state, "version": version or
                        self.running, "reason": reason, "at": iso_utc(time.time())}  # fmt: skip
        self.link.publish(self.topics.rollout, json.dumps(self._report))
        (log.warning if reason else log.info)("roll-out: %s %s %s", state, version, reason)

    def _on_message(self, topic: str, payload: bytes) -> None:
        if topic == self.topics.command:
            self._commands.put(payload)
        else:
            self._chunks.put((topic, payload))

    def _work(self) -> None:
        while not self._closing.is_set():
            payload = self._commands.get()
            if not payload or self._closing.is_set():
                continue
            try:
                self._handle(payload)
            except Exception as error:  # noqa: BLE001 (reported; the running bundle stays)
                self.report("rejected", reason=f"{type(error).__name__}: {error}")

    def _handle(self, payload: bytes) -> None:
        try:
            offer = BundleOffer.parse(json.loads(payload)["install"], self.topics.command)
        except (ValueError, KeyError, TypeError) as error:
            self.report("rejected", reason=f"{self.topics.command}: not a command ({error})")
            return
        except MaskwatchError as error:
            self.report("rejected", reason=str(error))
            return
        version, state = offer.version, self.store.state
        if version == self.running:
            self.report("trial" if self.store.in_trial else "ok", version)
        elif version in state.failed:
            self.report("rolled_back", version, state.failed[version])
        else:
            self._install(offer)

    def _install(self, offer: BundleOffer) -> None:
        self.report("downloading", offer.version)
        try:
            verify(self.key, offer.version, offer.sha256, offer.signature)
            data = fetch_url(offer) if offer.url else self._fetch_chunks(offer)
            check_download(offer, data)
            self.store.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=self.store.root, prefix=".") as folder:
                archive = Path(folder) / "bundle.tar.gz"
                archive.write_bytes(data)
                self.store.install(archive, offer.version)
        except MaskwatchError as error:
            self.report("rejected", offer.version, str(error))
            return
        self.store.begin_trial(offer.version)
        self.report("switching", offer.version)
        self._restart()

    def _fetch_chunks(self, offer: BundleOffer) -> bytes:
        """The retained chunks, in any order; a chunk missing for ``DOWNLOAD_SECONDS``
        ends the download as truncated."""
        pattern = chunk_topic(self.config.fleet.bundle_topic, offer.version, 0)[:-1] + "+"
        wanted = {chunk_topic(self.config.fleet.bundle_topic, offer.version, i): i
                  for i in range(offer.chunks)}  # fmt: skip
        parts: dict[int, bytes] = {}
        while not self._chunks.empty():
            self._chunks.get_nowait()
        self.link.subscribe(pattern)
        try:
            while len(parts) < offer.chunks and not self._closing.is_set():
                try:
                    topic, payload = self._chunks.get(timeout=DOWNLOAD_SECONDS)
                except queue.Empty:
                    break
                if topic in wanted:
                    parts[wanted[topic]] = payload
        finally:
            self.link.unsubscribe(pattern)
        if len(parts) < offer.chunks:
            got = f"{len(parts)} of {offer.chunks} chunks"
            size = sum(map(len, parts.values()))
            raise DownloadError(f"bundle {offer.version}: truncated download, {got} "
                                f"({size} of {offer.size} bytes)")  # fmt: skip
        return b"".join(parts[i] for i in range(offer.chunks))
