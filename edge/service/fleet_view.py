"""``maskwatch fleet show``: every device at a glance, from the broker's retained topics
alone (``availability``, ``rollout``, ``health``): online or not, the bundle it runs and
where its newest roll-out stands, frames a second, CPU temperature, queue depth, its last
event, and the people seen and the share masked in the newest hours.
"""

import json
import time
from datetime import datetime

from maskwatch.publish.fleet_link import FleetLink

TOPICS = ("availability", "rollout", "health")
COLUMNS = ("device", "site", "online", "bundle", "roll-out", "fps", "temp", "queue",
           "last event", "people/h", "masked")  # fmt: skip


def read_fleet(link: FleetLink, prefix: str) -> dict[str, dict]:
    """device -> {"availability": str, "rollout": dict, "health": dict}."""
    fleet: dict[str, dict] = {}
    for name in TOPICS:
        for topic, payload in link.retained(f"{prefix}/+/{name}").items():
            device = topic[len(prefix) + 1 :].split("/")[0]
            text = payload.decode(errors="replace")
            try:
                value = text if name == "availability" else json.loads(text)
            except ValueError:
                value = {"error": f"not JSON: {text[:40]}"}
            fleet.setdefault(device, {})[name] = value
    return fleet


def _hourly(health: dict) -> tuple[str, str]:
    """People in the newest hour with a count, and the share of them masked."""
    hours = health.get("hours") or {}
    if not hours:
        return "-", "-"
    counts = hours[max(hours)]
    people = counts.get("people", 0)
    share = f"{100 * counts.get('masked', 0) / people:.0f}%" if people else "-"
    return f"{people} ({max(hours)[11:13]}h)", share


def online(entry: dict, now: float) -> str:
    """``yes``; ``NO`` (its last will, or it said so); ``stale``: online, it says, but its
    health is three intervals late (a device the broker dropped, a revoked user)."""
    if entry.get("availability") != "online":
        return "NO"
    health = entry.get("health", {})
    try:
        at = datetime.fromisoformat(health["at"].replace("Z", "+00:00")).timestamp()
    except (KeyError, ValueError, AttributeError):
        return "yes"
    return "stale" if now - at > 3 * float(health.get("every_s", 60)) else "yes"


def row(device: str, entry: dict, now: float) -> tuple[str, ...]:
    health, rollout = entry.get("health", {}), entry.get("rollout", {})
    state = rollout.get("state", "-")
    if rollout.get("version") and rollout.get("version") != rollout.get("running"):
        state += f" {rollout['version']}"
    if rollout.get("reason"):
        state += f": {rollout['reason']}"
    temp = health.get("cpu_temp_c")
    people, masked = _hourly(health)
    return (
        device,
        health.get("site") or "-",
        online(entry, now),
        rollout.get("running") or health.get("bundle") or "-",
        state,
        str(health.get("fps", "-")),
        f"{temp:.0f} C" if isinstance(temp, int | float) else "-",
        str(health.get("queue_depth", "-")),
        health.get("last_event") or "-",
        people,
        masked,
    )


def table(fleet: dict[str, dict]) -> str:
    now = time.time()
    rows = [COLUMNS, *(row(device, fleet[device], now) for device in sorted(fleet))]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)).rstrip()
             for r in rows]  # fmt: skip
    return "\n".join(lines)
