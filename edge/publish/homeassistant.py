"""Home Assistant MQTT discovery: the entities one maskwatch device announces.

Each entity's config is published retained to
``<prefix>/<component>/maskwatch_<device>/<object>/config``; all of them share one
``device`` entry, and all follow the device's ``availability`` topic. Publishing an
empty retained payload to the same topics removes them again.
"""

import json
from dataclasses import dataclass, fields
from importlib.metadata import PackageNotFoundError, version

STATUS_TOPIC_SUFFIX = "status"  # Home Assistant says "online" here when it (re)starts


def software_version() -> str:
    try:
        return version("maskwatch")
    except PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class Topics:
    """The device's own topics: ``<prefix>/<device>/<field name>``."""

    availability: str
    events: str
    state: str
    no_mask: str
    stats: str
    snapshot: str
    queue: str  # retained: {"state": "disk" | "memory", "reason": ..., "lost": n}

    @classmethod
    def under(cls, base: str) -> "Topics":
        return cls(*(f"{base}/{f.name}" for f in fields(cls)))


def _common(device_slug: str, device_name: str, availability: str) -> dict:
    """What every entity of one device shares: the device entry and its availability."""
    device = {
        "identifiers": [f"maskwatch_{device_slug}"],
        "name": f"maskwatch {device_name}",
        "manufacturer": "maskwatch",
        "model": "face-mask detector",
        "sw_version": software_version(),
    }
    return {
        "availability_topic": availability,
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": device,
    }


def _configs(prefix: str, device_slug: str, common: dict, entities: dict) -> dict[str, str]:
    node = f"maskwatch_{device_slug}"
    return {
        f"{prefix}/{component}/{node}/{object_id}/config": json.dumps(
            {**entity, "unique_id": f"{node}_{object_id}", **common}
        )
        for (component, object_id), entity in entities.items()
    }


def fleet_health_messages(
    prefix: str, device_slug: str, device_name: str, availability: str, health: str
) -> dict[str, str]:
    """A fleet device's retained ``health`` (docs/fleet.md) as diagnostic entities."""
    diagnostic = {"state_topic": health, "entity_category": "diagnostic"}
    entities = {
        ("sensor", "bundle"): {"name": "Model bundle", "value_template": "{{ value_json.bundle }}",
                               "icon": "mdi:package-variant"},
        ("sensor", "cpu_temp"): {"name": "CPU temperature", "device_class": "temperature",
                                 "unit_of_measurement": "°C",
                                 "value_template": "{{ value_json.cpu_temp_c }}"},
        ("sensor", "queue_depth"): {"name": "Events queued",
                                    "value_template": "{{ value_json.queue_depth }}"},
        ("sensor", "people_hour"): {"name": "People this hour", "unit_of_measurement": "people",
                                    "value_template": "{{ value_json.people_this_hour }}"},
        ("sensor", "masked_share"): {"name": "Masked this hour", "unit_of_measurement": "%",
                                     "value_template": "{{ value_json.masked_percent_this_hour }}"},
    }  # fmt: skip
    entities = {key: {**entity, **diagnostic} for key, entity in entities.items()}
    return _configs(prefix, device_slug, _common(device_slug, device_name, availability), entities)


def discovery_messages(
    prefix: str, device_slug: str, device_name: str, topics: Topics
) -> dict[str, str]:
    """Config topic -> JSON payload for every entity of this device."""
    common = _common(device_slug, device_name, topics.availability)
    counts = {
        "state_topic": topics.state,
        "state_class": "measurement",
        "unit_of_measurement": "people",
    }
    entities = {
        ("binary_sensor", "no_mask"): {
            "name": "Unmasked person",
            "state_topic": topics.no_mask,
            "payload_on": "ON",
            "payload_off": "OFF",
            "device_class": "occupancy",
            "icon": "mdi:face-mask-outline",
        },
        ("sensor", "faces"): {
            "name": "People in view",
            "value_template": "{{ value_json.faces }}",
            "icon": "mdi:account-group",
            **counts,
        },
        ("sensor", "mask"): {
            "name": "Masked people",
            "value_template": "{{ value_json.mask }}",
            "icon": "mdi:face-mask",
            **counts,
        },
        ("sensor", "unmasked"): {
            "name": "Unmasked people",
            "value_template": "{{ value_json.no_mask }}",
            "icon": "mdi:emoticon-outline",
            **counts,
        },
        ("sensor", "mask_incorrect"): {
            "name": "People wearing a mask wrongly",
            "value_template": "{{ value_json.mask_incorrect | default(0) }}",
            "icon": "mdi:face-mask-outline",
            **counts,
        },
        ("sensor", "fps"): {
            "name": "Frame rate",
            "state_topic": topics.stats,
            "value_template": "{{ value_json.fps }}",
            "unit_of_measurement": "fps",
            "state_class": "measurement",
            "entity_category": "diagnostic",
            "icon": "mdi:speedometer",
        },
        ("binary_sensor", "queue_problem"): {
            "name": "Event queue problem",
            "state_topic": topics.queue,
            "value_template": "{{ 'ON' if value_json.state != 'disk' else 'OFF' }}",
            "json_attributes_topic": topics.queue,
            "device_class": "problem",
            "entity_category": "diagnostic",
        },
    }
    return _configs(prefix, device_slug, common, entities)
