"""The fleet view's table from retained messages: online, stale or not, the roll-out with
its reason, and the people of the newest hour with the share masked."""

import json
import re
import time

from maskwatch.publish.homeassistant import fleet_health_messages
from maskwatch.service.fleet_health import EventTally, health_message
from maskwatch.service.fleet_view import table
from maskwatch.tracking.events import iso_utc


def health(at: float, tally: EventTally | None = None) -> dict:
    message = health_message("v2", 4.8, 3, tally or EventTally(), "north", "canary", 60)
    return {**message, "at": iso_utc(at)}


def test_the_table_says_who_is_online_stale_or_off_and_why_a_rollout_failed():
    tally = EventTally()
    for label in ("mask", "mask", "mask", "no_mask"):
        tally.add({"type": "new", "label": label, "last_seen": "2026-12-02T18:00:00.000Z"})
        tally.add({"type": "end", "label": label, "last_seen": "2026-12-02T18:00:01.000Z"})
    now = time.time()
    fleet = {
        "door-1": {"availability": "online", "health": health(now, tally),
                   "rollout": {"running": "v2", "state": "ok", "version": "v2"}},
        "door-2": {"availability": "online", "health": health(now - 600),
                   "rollout": {"running": "v1", "state": "rolled_back", "version": "v2",
                               "reason": "cannot start: ValueError"}},
        "door-3": {"availability": "offline"},
    }  # fmt: skip
    lines = table(fleet).splitlines()
    assert lines[0].split()[:5] == ["device", "site", "online", "bundle", "roll-out"]
    one, two, three = (line.split() for line in lines[1:])
    assert one[:5] == ["door-1", "north", "yes", "v2", "ok"]
    assert one[-3:] == ["4", f"({iso_utc(now)[11:13]}h)", "75%"]  # 4 people, 3 masked
    assert two[:7] == ["door-2", "north", "stale", "v1", "rolled_back", "v2:", "cannot"]
    assert three[:5] == ["door-3", "-", "NO", "-", "-"]
    assert health(now, tally)["people_this_hour"] == 4
    assert health(now, tally)["masked_percent_this_hour"] == 75


def test_home_assistant_gets_each_fleet_devices_health_as_entities():
    base = "maskwatch/door-1"
    messages = fleet_health_messages("homeassistant", "door-1", "door 1", f"{base}/availability",
                                     f"{base}/health")  # fmt: skip
    health = health_message("v2", 4.8, 3, EventTally(), "north", "", 60)
    assert len(messages) == 5
    for topic, payload in messages.items():
        entity = json.loads(payload)
        assert topic.startswith("homeassistant/sensor/maskwatch_door-1/")
        assert entity["state_topic"] == "maskwatch/door-1/health"
        assert entity["device"]["identifiers"] == ["maskwatch_door-1"]  # the device's own entry
        key = re.search(r"value_json\.(\w+)", entity["value_template"]).group(1)
        assert key in health, key  # every entity reads a field the device publishes
