"""The fleet's topic plan and the roll-out's messages, shared by the devices and the
admin's commands (docs/fleet.md).

Per device, under ``<prefix>/<device_id>/``: ``command`` (retained, written by the admin:
the bundle to install), ``rollout`` (retained, written by the device: where its roll-out
stands) and ``health`` (retained: version, frame rate, temperature, queue, people per
hour), beside the daemon's own ``availability``, ``events``, ``state`` and ``stats``.
Bundles, once per fleet: ``<bundle_topic>/<version>/offer`` and ``.../chunk/<n>``.
"""

import json
from dataclasses import asdict, dataclass, fields

from maskwatch.core.errors import MaskwatchError

CHUNK_BYTES = 256 * 1024  # under every broker's default message size limit


@dataclass(frozen=True)
class DeviceTopics:
    """A device's fleet topics (its ``availability`` and the rest are the daemon's)."""

    command: str
    rollout: str
    health: str

    @classmethod
    def of(cls, prefix: str, device: str) -> "DeviceTopics":
        return cls(*(f"{prefix}/{device}/{f.name}" for f in fields(cls)))


def offer_topic(bundle_topic: str, version: str) -> str:
    return f"{bundle_topic}/{version}/offer"


def chunk_topic(bundle_topic: str, version: str, index: int) -> str:
    return f"{bundle_topic}/{version}/chunk/{index}"


@dataclass(frozen=True)
class BundleOffer:
    """A published bundle: where to get it (``url``, else the MQTT chunks), its size, its
    sha256 and the fleet key's signature of version + sha256."""

    version: str
    sha256: str
    size: int
    chunks: int
    signature: str
    url: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def parse(cls, payload: bytes | str | dict, where: str) -> "BundleOffer":
        """From the offer's JSON, or the same already read (in a command)."""
        try:
            data = payload if isinstance(payload, dict) else json.loads(payload)
            offer = cls(**data)
        except (ValueError, TypeError) as error:
            raise MaskwatchError(f"{where}: not a bundle offer ({error})") from None
        if not isinstance(offer.size, int) or not isinstance(offer.chunks, int):
            raise MaskwatchError(f"{where}: not a bundle offer (size and chunks are integers)")
        return offer
