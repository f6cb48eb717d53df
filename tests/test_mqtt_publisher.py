"""The publisher against a real broker: events leave the queue only when acknowledged,
the acknowledgement bookkeeping survives a failing disk, and dead threads come back."""

import json
import sqlite3
import threading
from pathlib import Path

import pytest

import maskwatch.publish.mqtt
from maskwatch.core.config import HomeAssistantConfig, load_config
from maskwatch.publish.event_queue import EventQueue
from maskwatch.publish.mqtt import MqttPublisher
from tests.conftest import wait_until
from workbench.local_broker import Listener, LocalBroker

EVENTS = "maskwatch/unit/events"
NO_MASK = "maskwatch/unit/no_mask"


def publisher_for(broker, tmp_path, *overrides):
    config = load_config(None, [f"mqtt.port={broker.port}", *overrides], {})
    queue = EventQueue(tmp_path / "events.sqlite3", 100)
    publisher = MqttPublisher(config.mqtt, config.homeassistant, "unit", "unit", queue)
    return publisher, queue


def seqs_of(listener):
    return [json.loads(p)["seq"] for p in listener.payloads(EVENTS)]


def test_events_leave_the_queue_once_acknowledged_in_order(broker, tmp_path):
    listener = Listener(broker.port, EVENTS)
    publisher, queue = publisher_for(broker, tmp_path)
    seqs = [publisher.publish_event({"type": "new", "n": n}) for n in range(30)]
    assert queue.depth() == 30  # written before anything was sent
    publisher.start()
    assert listener.wait_for(lambda lst: len(lst.payloads(EVENTS)) == 30)
    assert publisher.stop() == 0 and queue.depth() == 0
    got = [json.loads(p) for p in listener.payloads(EVENTS)]
    assert [e["seq"] for e in got] == seqs and [e["n"] for e in got] == list(range(30))
    listener.close()


def test_at_qos_0_events_leave_the_queue_when_handed_over(broker, tmp_path):
    listener = Listener(broker.port, EVENTS)
    publisher, queue = publisher_for(broker, tmp_path, "mqtt.qos=0")
    publisher.start()
    assert publisher.connected.wait(10)
    seqs = [publisher.publish_event({"type": "new", "n": n}) for n in range(25)]
    assert wait_until(lambda: queue.depth() == 0)  # not left for the next start to resend
    assert listener.wait_for(lambda lst: seqs_of(lst) == seqs)
    assert publisher.stop() == 0
    listener.close()


def test_a_failing_disk_in_the_acknowledgement_path_is_logged_and_delivery_resumes(
    broker, tmp_path, caplog
):
    listener = Listener(broker.port, EVENTS)
    publisher, queue = publisher_for(broker, tmp_path)
    remove, failures = queue.remove, []

    def flaky_remove(seqs):
        if len(failures) < 3:
            failures.append(seqs)
            raise sqlite3.OperationalError("disk I/O error")
        remove(seqs)

    queue.remove = flaky_remove
    publisher.start()
    first = [publisher.publish_event({"n": n}) for n in range(5)]
    assert wait_until(lambda: len(failures) == 3)
    later = [publisher.publish_event({"n": n}) for n in range(5, 10)]
    assert listener.wait_for(lambda lst: seqs_of(lst) == first + later)
    assert wait_until(lambda: queue.depth() == 0), (queue.depth(), publisher._in_flight)
    assert publisher.supervise()  # the sender lived through it
    assert "MQTT sender: OperationalError: disk I/O error; retrying" in caplog.text
    assert publisher.stop() == 0
    listener.close()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_network_thread_is_restarted_and_delivery_resumes(broker, tmp_path, caplog):
    listener = Listener(broker.port, EVENTS)
    publisher, queue = publisher_for(broker, tmp_path)
    publisher.start()
    assert publisher.connected.wait(10)
    client, crashed = publisher._client, threading.Event()
    loop_misc = client.loop_misc

    def crash_once():
        if not crashed.is_set():
            crashed.set()
            raise RuntimeError("a bug inside paho")
        return loop_misc()

    client.loop_misc = crash_once  # paho's loop calls it every round: its thread dies
    assert crashed.wait(5) and wait_until(lambda: not publisher._network_alive())
    before = publisher.publish_event({"n": 0})
    assert publisher.supervise()  # restarted
    assert "the MQTT network thread died; restarting it" in caplog.text
    after = publisher.publish_event({"n": 1})
    assert listener.wait_for(lambda lst: seqs_of(lst) == [before, after])
    assert publisher.stop() == 0
    listener.close()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_sender_is_restarted_once_and_then_reported(broker, tmp_path, caplog,
                                                          monkeypatch):  # fmt: skip
    listener = Listener(broker.port, EVENTS)
    publisher, queue = publisher_for(broker, tmp_path)
    publisher.start()
    assert publisher.connected.wait(10)
    send_some, deaths = publisher._send_some, []

    def dies_once():
        if not deaths:
            deaths.append(1)
            raise SystemExit  # not an Exception: the guard lets it end the thread
        send_some()

    publisher._send_some = dies_once
    publisher._wake.set()
    assert wait_until(lambda: not publisher._sender.is_alive())
    assert publisher.supervise()
    assert "the MQTT sender thread died; restarting it" in caplog.text
    seq = publisher.publish_event({"n": 0})
    assert listener.wait_for(lambda lst: seqs_of(lst) == [seq])

    # Dying again within the grace period: not restarted, reported unhealthy so that the
    # daemon stops feeding systemd's watchdog and the whole process is restarted.
    def always_dies():
        raise SystemExit

    publisher._send_some = always_dies
    publisher._wake.set()
    assert wait_until(lambda: not publisher._sender.is_alive())
    assert publisher.supervise() is False
    monkeypatch.setattr(maskwatch.publish.mqtt, "RESTART_GRACE_SECONDS", 0.0)
    publisher._send_some = send_some
    assert publisher.supervise()  # after the grace period it is restarted again
    publisher.stop()
    listener.close()


def test_the_latest_state_is_retained_after_a_reconnect(tmp_path):
    with LocalBroker() as broker:
        publisher, _ = publisher_for(broker, tmp_path, "mqtt.reconnect_max=1")
        publisher.start()
        assert publisher.connected.wait(10)
        publisher.publish_state(1, 0)
        broker.stop()
        assert wait_until(lambda: not publisher.connected.is_set())
        publisher.publish_state(0, 1)  # changed while the broker was away
        broker.start()
        assert publisher.connected.wait(10)
        live = Listener(broker.port, NO_MASK)  # the older OFF may be resent first; ON last
        assert live.wait_for(lambda lst: lst.payloads(NO_MASK)[-1:] == [b"ON"]), live.messages
        live.close()
        retained = Listener(broker.port, NO_MASK)
        assert retained.wait_for(lambda lst: lst.messages)
        assert retained.messages == [(NO_MASK, b"ON", True)]
        retained.close()
        publisher.stop()


@pytest.mark.parametrize(
    ("setting", "alarm"), [("mqtt.alarm_on_mask_incorrect=true", b"ON"),
                           ("mqtt.alarm_on_mask_incorrect=false", b"OFF")]
)  # fmt: skip
def test_a_mask_worn_wrongly_raises_the_alarm_unless_excluded(tmp_path, setting, alarm):
    with LocalBroker() as broker:
        publisher, _ = publisher_for(broker, tmp_path, setting)
        publisher.start()
        assert publisher.connected.wait(10)
        live = Listener(broker.port, NO_MASK)
        publisher.publish_state(2, 0, 1)
        assert live.wait_for(lambda lst: lst.messages)
        live.close()
        retained = Listener(broker.port, NO_MASK)
        assert retained.wait_for(lambda lst: lst.messages)
        assert retained.messages == [(NO_MASK, alarm, True)]
        retained.close()
        state = Listener(broker.port, "maskwatch/unit/state")
        assert state.wait_for(lambda lst: lst.messages)
        assert json.loads(state.messages[0][1]) == {
            "faces": 3, "mask": 2, "no_mask": 0, "mask_incorrect": 1
        }  # fmt: skip
        state.close()
        publisher.stop()


def test_a_failing_connection_set_up_is_unhealthy_and_logged(broker, tmp_path, caplog):
    """A discovery publish that raises inside on_connect (a prefix the config now refuses,
    handed in unchecked): nothing is sent, so the publisher must not look healthy."""
    config = load_config(None, [f"mqtt.port={broker.port}"], {})
    queue = EventQueue(tmp_path / "events.sqlite3", 100)
    unchecked = HomeAssistantConfig(prefix="home/+")  # the dataclass alone validates nothing
    publisher = MqttPublisher(config.mqtt, unchecked, "unit", "unit", queue)
    publisher.start()
    assert wait_until(lambda: "MQTT callback _on_connect failed" in caplog.text)
    assert publisher.supervise() is False
    assert publisher.supervise() is False
    lines = [r.getMessage() for r in caplog.records if "watchdog" in r.getMessage()]
    assert len(lines) == 1, lines  # logged once, not every frame
    assert lines[0].startswith("setting up the broker connection failed: _on_connect failed "
                               "(ValueError: Publish topic cannot contain wildcards.)")  # fmt: skip
    publisher.stop(timeout=0.5)


def test_a_hung_sender_is_unhealthy_and_says_where_it_hangs(broker, tmp_path, caplog,
                                                           monkeypatch):  # fmt: skip
    monkeypatch.setattr(maskwatch.publish.mqtt, "SENDER_STALL_SECONDS", 1.0)
    publisher, queue = publisher_for(broker, tmp_path)
    publisher.start()
    assert publisher.connected.wait(10)
    release = threading.Event()

    def hangs():
        release.wait(20)

    publisher._send_some = hangs
    publisher._wake.set()
    assert wait_until(lambda: publisher.supervise() is False, 10)
    assert publisher.supervise() is False
    lines = [r.getMessage() for r in caplog.records if "watchdog" in r.getMessage()]
    assert len(lines) == 1, lines  # logged once, not every frame
    assert lines[0].startswith("the MQTT sender thread has hung for over 1 s, in ")
    assert f"{Path(__file__).name}:{hangs.__code__.co_firstlineno + 1} hangs > " in lines[0]
    assert lines[0].endswith(": no longer feeding systemd's watchdog, which restarts maskwatch")
    release.set()
    assert wait_until(publisher.supervise)  # it came round again
    publisher.stop(timeout=0.5)
