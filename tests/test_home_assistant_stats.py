"""Home Assistant discovery, the stats topic and opt-in snapshots, against a real broker."""

import json
import re

import cv2
import numpy as np

from tests.conftest import FRAMES_PER_SCENE, TOPIC, link_still_sequences, start_daemon, terminate
from workbench.local_broker import Listener

NODE = "maskwatch_front-door"
ENTITIES = {
    f"homeassistant/binary_sensor/{NODE}/no_mask/config",
    f"homeassistant/sensor/{NODE}/faces/config",
    f"homeassistant/sensor/{NODE}/mask/config",
    f"homeassistant/sensor/{NODE}/unmasked/config",
    f"homeassistant/sensor/{NODE}/mask_incorrect/config",
    f"homeassistant/sensor/{NODE}/fps/config",
    f"homeassistant/binary_sensor/{NODE}/queue_problem/config",
}


def configs(listener):
    return [(t, p) for t, p, _ in listener.messages if t in ENTITIES]


def test_discovery_stats_and_snapshots(broker, clear_faces, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    link_still_sequences(frames, clear_faces, FRAMES_PER_SCENE)
    listener = Listener(broker.port, "#")
    daemon = start_daemon(
        broker, frames, "--set", "source.loop=true", "--set", "mqtt.stats_interval=0.3",
        "--set", "snapshot.enabled=true",
    )  # fmt: skip
    try:
        assert listener.wait_for(lambda lst: len(configs(lst)) == len(ENTITIES), timeout=60)
        assert listener.wait_for(lambda lst: len(lst.payloads(f"{TOPIC}/stats")) >= 3, 30)
        assert listener.wait_for(lambda lst: lst.payloads(f"{TOPIC}/snapshot"), 30)
        listener.publish("homeassistant/status", "online")  # Home Assistant restarted
        assert listener.wait_for(lambda lst: len(configs(lst)) == 2 * len(ENTITIES), timeout=10)
        terminate(daemon)
    finally:
        if daemon.poll() is None:
            daemon.kill()
        listener.close()

    stored = Listener(broker.port, "homeassistant/#")  # what Home Assistant gets on start
    assert stored.wait_for(lambda lst: len(configs(lst)) == len(ENTITIES), timeout=5)
    stored.close()
    assert all(retained for t, _, retained in stored.messages if t in ENTITIES)
    announced = {t: json.loads(p) for t, p in configs(listener)}
    assert set(announced) == ENTITIES
    state = json.loads(listener.payloads(f"{TOPIC}/state")[-1])
    stats = json.loads(listener.payloads(f"{TOPIC}/stats")[-1])
    queue = json.loads(listener.payloads(f"{TOPIC}/queue")[-1])
    for topic, entity in announced.items():
        # What Home Assistant needs to create the entity and tie it to one device.
        assert entity["name"] and entity["unique_id"].startswith(NODE)
        assert entity["availability_topic"] == f"{TOPIC}/availability"
        assert entity["payload_available"] == "online"
        assert entity["payload_not_available"] == "offline"
        assert entity["device"]["identifiers"] == [NODE]
        assert entity["device"]["name"] == "maskwatch front-door"
        assert entity["state_topic"].startswith(f"{TOPIC}/")
        if "value_template" in entity:  # the template reads a key the topic really carries
            key = re.search(r"value_json\.(\w+)", entity["value_template"]).group(1)
            payload = {"state": state, "stats": stats, "queue": queue}[
                entity["state_topic"].rsplit("/", 1)[1]
            ]
            assert key in payload, (topic, key)
    assert len({e["unique_id"] for e in announced.values()}) == len(ENTITIES)
    wrongly = announced[f"homeassistant/sensor/{NODE}/mask_incorrect/config"]
    assert wrongly["name"] == "People wearing a mask wrongly"
    assert state["faces"] == state["mask"] + state["no_mask"] + state["mask_incorrect"]
    problem = announced[f"homeassistant/binary_sensor/{NODE}/queue_problem/config"]
    assert problem["device_class"] == "problem" and problem["entity_category"] == "diagnostic"
    assert queue == {"state": "disk", "reason": "", "lost": 0} == stats["queue"]
    binary = announced[f"homeassistant/binary_sensor/{NODE}/no_mask/config"]
    assert binary["state_topic"] == f"{TOPIC}/no_mask"
    assert (binary["payload_on"], binary["payload_off"]) == ("ON", "OFF")

    assert stats["frames"] > 0 and stats["fps"] >= 0 and stats["uptime_s"] > 0
    assert {"read", "decode", "detect", "classify", "track", "publish"} <= set(stats["latency_ms"])
    assert stats["latency_ms"]["decode"]["p50"] > stats["latency_ms"]["read"]["p50"]  # JPEG
    assert all(v["p50"] <= v["p95"] for v in stats["latency_ms"].values())
    assert stats["dropped_frames"] == 0 and stats["queue_depth"] >= 0
    assert stats["queue_overflowed"] == 0 and stats["rss_mb"] > 0
    assert "cpu_temp_c" in stats and stats["events"] > 0
    # Motion gating: still photos, so people are found on full-frame passes (the first
    # frame of each photo) and followed in regions; the CPU the daemon used, per hour.
    assert 0 <= stats["motion_share"] <= 1 and stats["detector_runs_per_frame"] > 0
    assert stats["regions_per_frame"] >= 0 and stats["cpu_s_per_hour"] > 0

    snapshot = listener.payloads(f"{TOPIC}/snapshot")[0]
    image = cv2.imdecode(np.frombuffer(snapshot, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and min(image.shape[:2]) >= 40  # a face crop, as JPEG

    # Discovery turned off: the device's entities are removed from Home Assistant.
    nobody = tmp_path / "nobody"
    nobody.mkdir()
    cv2.imwrite(str(nobody / "empty.jpg"), np.full((240, 320, 3), 127, np.uint8))
    second = start_daemon(broker, nobody, "--set", "homeassistant.discovery=false")
    _, stderr = second.communicate(timeout=60)
    assert second.returncode == 0, stderr
    late = Listener(broker.port, "homeassistant/#")
    assert not late.wait_for(lambda lst: configs(lst), timeout=1.0)
    late.close()
