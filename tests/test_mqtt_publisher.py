"""The publisher against a real broker: events leave the queue only when acknowledged,
and acknowledgements of other messages are not kept around to be confused with them."""

import json
import time

import edge.mqtt
from edge.config import load_config
from edge.event_queue import EventQueue
from edge.mqtt import MqttPublisher
from scripts.local_broker import Listener


def publisher_for(broker, tmp_path):
    config = load_config(None, [f"mqtt.port={broker.port}"], {})
    queue = EventQueue(tmp_path / "events.sqlite3", 100)
    publisher = MqttPublisher(config.mqtt, config.homeassistant, "unit", "unit", queue)
    return publisher, queue


def test_events_leave_the_queue_once_acknowledged_in_order(broker, tmp_path):
    listener = Listener(broker.port, "maskwatch/unit/events")
    publisher, queue = publisher_for(broker, tmp_path)
    seqs = [publisher.publish_event({"type": "new", "n": n}) for n in range(30)]
    assert queue.depth() == 30  # written before anything was sent
    publisher.start()
    assert listener.wait_for(lambda lst: len(lst.payloads("maskwatch/unit/events")) == 30)
    assert publisher.stop() == 0 and queue.depth() == 0
    got = [json.loads(p) for p in listener.payloads("maskwatch/unit/events")]
    assert [e["seq"] for e in got] == seqs and [e["n"] for e in got] == list(range(30))
    listener.close()


def test_early_acknowledgements_are_forgotten_after_a_while(broker, tmp_path, monkeypatch):
    monkeypatch.setattr(edge.mqtt, "EARLY_ACK_SECONDS", 0.2)
    publisher, _ = publisher_for(broker, tmp_path)
    publisher.start()
    assert publisher.connected.wait(10)
    for n in range(50):  # QoS 0: paho reports each as sent, nobody waits for them
        publisher.publish_stats({"n": n})
    time.sleep(0.5)
    publisher.publish_stats({"n": 50})
    time.sleep(0.2)
    assert len(publisher._acked_early) <= 2
    publisher.stop()
