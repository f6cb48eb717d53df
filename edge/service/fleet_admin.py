"""The fleet admin's side of a roll-out: publish a signed bundle once, offer it to the
canary group, wait until each canary kept it, then to the rest; and read where every
device stands from the retained topics.
"""

import hashlib
import io
import json
import re
import tarfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from maskwatch.core.bundle import MANIFEST_FILE, load_bundle
from maskwatch.core.config import Config
from maskwatch.core.errors import MaskwatchError
from maskwatch.core.fleet_plan import (
    CHUNK_BYTES,
    BundleOffer,
    DeviceTopics,
    chunk_topic,
    offer_topic,
)
from maskwatch.core.signing import load_private_key, sign
from maskwatch.publish.fleet_link import FleetLink
from maskwatch.publish.mqtt import read_password
from maskwatch.service.provision import Device

VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ACK_SECONDS = 30.0
KEPT, REFUSED = ("ok",), ("rejected", "rolled_back")


def admin_link(config: Config) -> FleetLink:
    """Connected with the admin's broker user (``maskwatch fleet provision``'s admin config)."""
    link = FleetLink(
        config.mqtt, f"maskwatch-admin-{time.monotonic_ns()}", read_password(config.mqtt)
    )
    link.start().wait_connected()
    return link


def bundle_archive(path: Path) -> bytes:
    """A checked bundle as ``.tar.gz`` bytes: a bundle folder is packed, an archive read."""
    bundle = load_bundle(path)  # a broken bundle is never published
    if path.is_file():
        return path.read_bytes()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in sorted({MANIFEST_FILE, *bundle.manifest.files}):
            tar.add(bundle.path_of(name), arcname=name)
    return buffer.getvalue()


def publish_bundle(link: FleetLink, bundle_topic: str, path: Path, version: str, key: Path,
                   url: str = "") -> BundleOffer:  # fmt: skip
    """Sign the bundle and publish its offer, and (no ``url``) its retained chunks."""
    if not VERSION.fullmatch(version):
        raise MaskwatchError(f"--version {version!r}: use letters, digits, '.', '_' and '-'")
    if url and not path.name.endswith(".tar.gz"):
        raise MaskwatchError(f"--bundle {path}: with --url, give the .tar.gz file served there "
                             "(its sha256 is what the devices check)")  # fmt: skip
    data = bundle_archive(path)
    sha256 = hashlib.sha256(data).hexdigest()
    chunks = [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)]
    offer = BundleOffer(version, sha256, len(data), 0 if url else len(chunks),
                        sign(load_private_key(key), version, sha256), url)  # fmt: skip
    for index, chunk in enumerate(chunks if not url else []):
        link.publish(chunk_topic(bundle_topic, version, index), chunk, wait=ACK_SECONDS)
    link.publish(offer_topic(bundle_topic, version), offer.to_json(), wait=ACK_SECONDS)
    return offer


def published_offer(link: FleetLink, bundle_topic: str, version: str) -> BundleOffer:
    topic = offer_topic(bundle_topic, version)
    found = link.retained(topic, quiet=0.5, timeout=3.0).get(topic)
    if found is None:
        raise MaskwatchError(f"bundle {version}: not published on this broker; "
                             "run 'maskwatch fleet publish' first")  # fmt: skip
    return BundleOffer.parse(found, topic)


class Reports:
    """Every device's retained ``rollout`` report, kept up to date from the broker."""

    def __init__(self, link: FleetLink, prefix: str) -> None:
        self.prefix = prefix
        self._lock = threading.Lock()
        self._reports: dict[str, dict] = {}
        pattern = f"{prefix}/+/rollout"
        link.on_message = self._on_message
        link.subscribe(pattern)

    def _on_message(self, topic: str, payload: bytes) -> None:
        device = topic[len(self.prefix) + 1 :].split("/")[0]
        try:
            report = json.loads(payload)
        except ValueError:
            return
        with self._lock:
            self._reports[device] = report

    def of(self, device: str) -> dict:
        with self._lock:
            return dict(self._reports.get(device, {}))


def wait_for(reports: Reports, devices: list[Device], version: str, timeout: float,
             say: Callable[[str], None]) -> dict[str, str]:  # fmt: skip
    """Until every device kept ``version`` or refused it; device -> reason, for the others."""
    pending, failed = {d.device_id for d in devices}, {}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for device in sorted(pending):
            report = reports.of(device)
            if report.get("version") != version:
                continue
            if report.get("state") in KEPT:
                say(f"{device}: runs {version}")
                pending.discard(device)
            elif report.get("state") in REFUSED:
                failed[device] = f"{report['state']}: {report.get('reason', '')}"
                say(f"{device}: {failed[device]} (runs {report.get('running')})")
                pending.discard(device)
        time.sleep(0.2)
    for device in sorted(pending):
        failed[device] = f"no answer in {timeout:.0f} s (last: {reports.of(device) or 'none'})"
        say(f"{device}: {failed[device]}")
    return failed


def roll_out(link: FleetLink, config: Config, devices: list[Device], version: str,
             timeout: float, say: Callable[[str], None]) -> bool:  # fmt: skip
    """The canary group first; the rest only when every canary kept the bundle."""
    offer = published_offer(link, config.fleet.bundle_topic, version)
    reports = Reports(link, config.mqtt.topic_prefix)
    command = json.dumps({"install": json.loads(offer.to_json())})
    canaries = [d for d in devices if d.group == "canary"]
    rest = [d for d in devices if d.group != "canary"]
    for stage, group in (("canary", canaries), ("rest", rest)):
        if not group:
            continue
        say(f"{stage}: offering {version} to {len(group)} devices")
        for device in group:
            topic = DeviceTopics.of(config.mqtt.topic_prefix, device.device_id).command
            link.publish(topic, command, wait=ACK_SECONDS)
        failed = wait_for(reports, group, version, timeout, say)
        if failed:
            say(f"{stage}: {len(failed)} of {len(group)} did not keep {version}"
                + ("; the rest were not offered it" if stage == "canary" else ""))  # fmt: skip
            return False
    say(f"done: every device runs {version}")
    return True
