"""Publishing to an MQTT broker with paho-mqtt 2.x (callback API version 2).

Events go through the durable :class:`~maskwatch.publish.event_queue.EventQueue`: the frame loop
appends them, a sender thread hands them to paho in order (at most ``window`` not yet
acknowledged) and keeps each ``(seq, MQTTMessageInfo)`` pair; the same thread deletes
the acknowledged ones from the queue in batches. SQLite never runs in paho's network
thread, whose callbacks only set flags. After a reconnect, paho first resends what it
had in flight; the sender waits for those acknowledgements before it sends newer
events, so subscribers see them in order. Whatever is still queued when the daemon
stops (or dies) is sent at its next start. With ``mqtt.qos = 0`` an event leaves the
queue as soon as paho has taken it (at most once: an outage can lose it).

Both threads are supervised: :meth:`MqttPublisher.supervise`, called from the frame
loop, restarts a sender or network thread that died, and says the publisher is unhealthy
(so the daemon stops feeding systemd's watchdog) when one dies again soon after.

Retained topics say what holds now: ``availability`` (the broker's last will turns it
``offline``), ``state`` and ``no_mask``, and Home Assistant's discovery configs, all
published again on every (re)connect and when Home Assistant announces it is back.

Over 400 lines on purpose: the sender, paho's callbacks and their supervision share the
publisher's state (what is in flight, on which connection, why it is unhealthy); split
apart, each would reach into the others'.
"""

import json
import logging
import ssl
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt

from maskwatch.core.config import HomeAssistantConfig, MqttConfig
from maskwatch.core.credentials import read_secret
from maskwatch.core.errors import ConfigError
from maskwatch.publish.event_queue import EventQueue, InView
from maskwatch.publish.homeassistant import STATUS_TOPIC_SUFFIX, Topics, discovery_messages
from maskwatch.publish.outbox import Outbox

log = logging.getLogger(__name__)

ONLINE, OFFLINE = "online", "offline"
SENDER_STALL_SECONDS = 60.0  # a sender thread silent this long counts as hung
RESTART_GRACE_SECONDS = 60.0  # a thread that dies again this soon is not restarted again
CREDENTIAL_NAME = "mqtt_password"  # systemd LoadCredential=mqtt_password:...
PASSWORD_VARIABLE = "MASKWATCH_MQTT_PASSWORD"


def read_password(config: MqttConfig, environ: dict[str, str] | None = None) -> str | None:
    """The broker password: ``password_file``, else the systemd credential, else the
    environment (:func:`~maskwatch.core.credentials.read_secret`)."""
    return read_secret("mqtt.password_file", config.password_file, CREDENTIAL_NAME,
                       PASSWORD_VARIABLE, environ)  # fmt: skip


def configure_security(client: mqtt.Client, config: MqttConfig, password: str | None) -> None:
    """Username / password and TLS, each failure one line naming the key."""
    if password is not None and not config.username:
        raise ConfigError("config key mqtt.username: expected a user name to go with the password")
    if config.username:
        client.username_pw_set(config.username, password)
    if not config.tls:
        return
    for key, path in (("tls_ca", config.tls_ca), ("tls_cert", config.tls_cert),
                      ("tls_key", config.tls_key)):  # fmt: skip
        if path is not None and not path.is_file():
            raise ConfigError(f"config key mqtt.{key}: no such file {path}")
    try:
        client.tls_set(
            ca_certs=str(config.tls_ca) if config.tls_ca else None,
            certfile=str(config.tls_cert) if config.tls_cert else None,
            keyfile=str(config.tls_key) if config.tls_key else None,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    except (ssl.SSLError, ValueError) as error:
        raise ConfigError(f"config key mqtt.tls_ca / tls_cert / tls_key: {error}") from None


@dataclass
class InFlight:
    """A message handed to paho (an event, or None for the retained state), on the
    connection it was handed to."""

    seq: int | None
    info: mqtt.MQTTMessageInfo
    connection: int


def guarded(callback: Callable[..., None], failed: Callable[[str], None] | None = None
            ) -> Callable[..., None]:  # fmt: skip
    """A paho callback that logs its exceptions instead of ending paho's thread, and hands
    them to ``failed`` when one means the publisher no longer works."""

    def run(*args: object) -> None:
        try:
            callback(*args)
        except Exception as error:
            then = "carrying on" if failed is None else "unhealthy from now on"
            log.exception("MQTT callback %s failed; %s", callback.__name__, then)
            if failed is not None:
                failed(f"{callback.__name__} failed ({type(error).__name__}: {error})")

    run.__name__ = callback.__name__
    return run


def where(thread: threading.Thread, depth: int = 3) -> str:
    """The innermost ``depth`` calls a live thread is in now, outermost first."""
    frame = sys._current_frames().get(thread.ident)
    if frame is None:
        return "an unknown place"
    calls = traceback.extract_stack(frame)[-depth:]
    return " > ".join(f"{Path(c.filename).name}:{c.lineno} {c.name}" for c in calls)


class MqttPublisher:
    def __init__(
        self,
        config: MqttConfig,
        homeassistant: HomeAssistantConfig,
        device_slug: str,
        device_name: str,
        queue: Outbox | EventQueue,
        password: str | None = None,
    ) -> None:
        self.config = config
        self.topics = Topics.under(f"{config.topic_prefix}/{device_slug}")
        self.queue = queue
        self.connected = threading.Event()
        self.discovery = discovery_messages(
            homeassistant.prefix, device_slug, device_name, self.topics
        )
        self._announce = homeassistant.discovery
        self.event_hooks: list[Callable[[dict], None]] = []  # told every event queued (fleet)
        self._ha_status_topic = f"{homeassistant.prefix}/{STATUS_TOPIC_SUFFIX}"
        # Retained topic -> payload: what should hold now, set by the frame loop and sent
        # by the sender thread; and what it last sent there, on which connection.
        self._retained: dict[str, str] = {}
        self._retained_sent: dict[str, tuple[str, int]] = {}
        self._connection = 0  # counts connections; messages handed to an older one go first
        # The sender thread's own: what it handed to paho and is not yet acknowledged.
        self._in_flight: list[InFlight] = []
        self._retained_in_flight: list[InFlight] = []
        self._last_sent = 0  # seq of the newest event handed to paho
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._sender_beat = time.monotonic()
        self._sender = self._new_sender()
        self._restarted: dict[str, float] = {}  # thread -> when it was last restarted
        self._broken = ""  # why the connection's set-up failed: the publisher is unhealthy
        self._reported = ""  # the last reason for being unhealthy that was logged
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=config.client_id or f"maskwatch-{device_slug}",
        )
        configure_security(self._client, config, password)
        self._client.will_set(self.topics.availability, OFFLINE, qos=1, retain=True)
        self._client.reconnect_delay_set(min_delay=1, max_delay=round(config.reconnect_max))
        self._client.on_connect = guarded(self._on_connect, self._set_broken)
        self._client.on_connect_fail = guarded(self._on_connect_fail)
        self._client.on_disconnect = guarded(self._on_disconnect)
        self._client.on_message = guarded(self._on_message)

    # paho's network thread -------------------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if reason_code.is_failure:
            log.error("broker %s:%s refused the connection: %s (check mqtt.username and the "
                      "password)", self.config.host, self.config.port, reason_code)  # fmt: skip
            return
        log.info("connected to broker %s:%s", self.config.host, self.config.port)
        self._publish(self.topics.availability, ONLINE, retain=True)
        self._announce_to_home_assistant()
        client.subscribe(self._ha_status_topic, qos=1)
        self._connection += 1
        self.connected.set()
        self._wake.set()  # the sender sends the state and the events

    def _on_connect_fail(self, client, userdata) -> None:  # noqa: ANN001
        log.warning("cannot connect to broker %s:%s (check mqtt.host, mqtt.port and TLS); "
                    "retrying", self.config.host, self.config.port)  # fmt: skip

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        self.connected.clear()
        if reason_code.value != 0:
            log.warning("lost the broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, message) -> None:  # noqa: ANN001
        if message.topic == self._ha_status_topic and message.payload == b"online":
            log.info("Home Assistant is back: announcing the entities again")
            self._announce_to_home_assistant()
            self._retained_sent = {}  # the sender sends it all again
            self._wake.set()

    # publishing ------------------------------------------------------------------------

    def _publish(self, topic: str, payload: str | bytes, qos: int = 1,
                 retain: bool = False) -> mqtt.MQTTMessageInfo:  # fmt: skip
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if qos and info.rc == mqtt.MQTT_ERR_NO_CONN:
            # The connection dropped meanwhile: paho keeps the message queued and sends it
            # after the reconnect; only its first attempt failed.
            info.rc = mqtt.MQTT_ERR_SUCCESS
        return info

    def _announce_to_home_assistant(self) -> None:
        """Discovery configs when enabled; empty retained payloads remove them when not."""
        for topic, payload in self.discovery.items():
            self._publish(topic, payload if self._announce else "", retain=True)

    def publish_state(self, mask: int, no_mask: int, mask_incorrect: int = 0) -> None:
        """Retained: who is in view now, and ``ON`` while anyone unmasked is (or wears a
        mask wrongly, unless ``mqtt.alarm_on_mask_incorrect`` is false)."""
        state = {
            "faces": mask + no_mask + mask_incorrect,
            "mask": mask,
            "no_mask": no_mask,
            "mask_incorrect": mask_incorrect,
        }
        alarm = no_mask or (mask_incorrect and self.config.alarm_on_mask_incorrect)
        self._retain({self.topics.state: json.dumps(state),
                      self.topics.no_mask: "ON" if alarm else "OFF"})  # fmt: skip

    def publish_queue_health(self, health: dict) -> None:
        """Retained: whether events are kept on the card, and if not why (Home Assistant's
        "Event queue problem")."""
        self._retain({self.topics.queue: json.dumps(health)})

    def _retain(self, messages: dict[str, str]) -> None:
        self._retained = {**self._retained, **messages}
        self._wake.set()

    def publish_event(self, event: dict, in_view: InView | None = None) -> int:
        """Queue one event durably (it gets its ``seq`` there); returns the seq.
        ``in_view``: the person's entry in the queue's record of who is in view."""
        seq = self.queue.append(
            lambda n: json.dumps({**event, "seq": n}, separators=(",", ":")), in_view
        )
        for hook in self.event_hooks:
            hook(event)
        self._wake.set()
        return seq

    def publish_stats(self, stats: dict) -> None:
        """Periodic and of the moment: dropped while the broker is away."""
        if self.connected.is_set():
            self._client.publish(self.topics.stats, json.dumps(stats), qos=0)

    def publish_snapshot(self, jpeg: bytes) -> None:
        if self.connected.is_set():
            self._client.publish(self.topics.snapshot, jpeg, qos=0)

    # the sender thread -----------------------------------------------------------------

    def _forget_acknowledged(self) -> None:
        """Delete the events the broker has acknowledged from the queue, in one batch."""
        done = [f.info.is_published() for f in self._in_flight]  # one look: acks keep coming
        if any(done):
            self.queue.remove([f.seq for f, ok in zip(self._in_flight, done, strict=True) if ok])
            self._in_flight = [f for f, ok in zip(self._in_flight, done, strict=True) if not ok]

    def _send_retained(self, connection: int) -> None:
        """Retained topics whose payload changed, or all on a new connection. After a
        reconnect paho first resends what it had in flight, older payloads too: the
        current ones go out after those are acknowledged, so the broker keeps the newest."""
        self._retained_in_flight = [
            f for f in self._retained_in_flight if not f.info.is_published()
        ]
        if any(f.connection < connection for f in self._retained_in_flight):
            return
        for topic, payload in self._retained.items():
            if self._retained_sent.get(topic) != (payload, connection):
                info = self._publish(topic, payload, retain=True)
                self._retained_in_flight.append(InFlight(None, info, connection))
                self._retained_sent[topic] = (payload, connection)

    def _send_some(self) -> None:
        self._forget_acknowledged()
        connection = self._connection
        if not self.connected.is_set():
            return
        self._send_retained(connection)
        if any(f.connection < connection for f in self._in_flight):
            return  # paho resends what an earlier connection left unacknowledged, first
        room = self.config.window - len(self._in_flight)
        handed: list[InFlight] = []
        for event in self.queue.after(self._last_sent, room) if room > 0 else ():
            info = self._publish(self.topics.events, event.payload, qos=self.config.qos)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:  # QoS 0 and the connection just dropped
                break
            self._last_sent = event.seq
            handed.append(InFlight(event.seq, info, connection))
        if self.config.qos == 0 and handed:  # handed over is delivered, as far as QoS 0 goes
            self.queue.remove([f.seq for f in handed])
        elif handed:
            self._in_flight += handed

    def _send_forever(self) -> None:
        """The sender's body: one failed round (a busy or failing disk) is logged, then
        retried; it never ends the thread."""
        failures = 0
        while not self._closing.is_set():
            self._sender_beat = time.monotonic()
            self._wake.wait(min(0.5 * 2**failures, 5.0))
            self._wake.clear()
            try:
                self._send_some()
                failures = 0
            except Exception as error:
                failures = min(failures + 1, 4)
                log.error("MQTT sender: %s: %s; retrying", type(error).__name__, error)

    def _new_sender(self) -> threading.Thread:
        return threading.Thread(target=self._send_forever, name="mqtt-sender", daemon=True)

    # supervision -----------------------------------------------------------------------

    def _network_alive(self) -> bool:
        thread = self._client._thread  # paho sets it to None when its loop ends
        return thread is not None and thread.is_alive()

    def _sender_alive(self) -> bool:
        stalled = time.monotonic() - self._sender_beat > SENDER_STALL_SECONDS
        return self._sender.is_alive() and not stalled

    def _may_restart(self, name: str) -> bool:
        """Once per grace period: a thread that keeps dying needs a fresh process."""
        last = self._restarted.get(name)
        now = time.monotonic()
        if last is not None and now - last < RESTART_GRACE_SECONDS:
            return False
        self._restarted[name] = now
        return True

    def supervise(self) -> bool:
        """Restart a sender or network thread that died (logged); True while both live.

        A thread that dies again within ``RESTART_GRACE_SECONDS`` of its restart is left
        dead and False returned: the daemon then stops feeding systemd's watchdog, and
        systemd restarts the whole process."""
        if self._closing.is_set():
            return True
        problems = [self._broken] if self._broken else []
        if not self._sender_alive():
            if self._sender.is_alive():  # a hung thread cannot be replaced safely
                stalled = f"over {SENDER_STALL_SECONDS:.0f} s, in {where(self._sender)}"
                problems.append(f"the MQTT sender thread has hung for {stalled}")
            elif not self._may_restart("sender"):
                problems.append("the MQTT sender thread died again soon after its restart")
            else:
                log.error("the MQTT sender thread died; restarting it")
                self._sender_beat = time.monotonic()
                self._sender = self._new_sender()
                self._sender.start()
        if not self._network_alive():
            if not self._may_restart("network"):
                problems.append("the MQTT network thread died again soon after its restart")
            else:
                log.error("the MQTT network thread died; restarting it")
                self._client.loop_start()
        self._report("; ".join(problems))
        return not problems

    def _set_broken(self, reason: str) -> None:
        self._broken = f"setting up the broker connection failed: {reason}"

    def _report(self, problem: str) -> None:
        """Each new reason for being unhealthy, logged once: the watchdog restart that
        follows has its cause in the journal."""
        if problem and problem != self._reported:
            log.error("%s: no longer feeding systemd's watchdog, which restarts maskwatch",
                      problem)  # fmt: skip
        self._reported = problem

    # life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; paho reconnects with backoff after a loss."""
        self._client.connect_async(self.config.host, self.config.port, self.config.keepalive)
        self._client.loop_start()
        self._sender.start()

    def _retained_delivered(self) -> bool:
        sent, in_flight = self._retained_sent, self._retained_in_flight
        current = all(sent.get(t, (None,))[0] == p for t, p in self._retained.items())
        return current and all(f.info.is_published() for f in in_flight)

    def stop(self, timeout: float = 3.0) -> int:
        """Deliver what is queued while time allows, publish ``offline``, disconnect.

        Returns how many events stay queued for the next start."""
        deadline = time.monotonic() + timeout
        self.connected.wait(timeout / 2)  # a connection being made gets its chance
        while (
            (self.queue.depth() or not self._retained_delivered())
            and self.connected.is_set()
            and time.monotonic() < deadline
        ):
            self._wake.set()
            time.sleep(0.02)
        self._closing.set()
        self._sender.join(timeout=1.0)
        if not self._sender.is_alive():
            self._forget_acknowledged()  # what was acknowledged since the sender's last round
        if self.connected.is_set():
            offline = self._publish(self.topics.availability, OFFLINE, retain=True)
            while not offline.is_published() and time.monotonic() < deadline + 0.5:
                time.sleep(0.02)
        self._client.disconnect()
        self._client.loop_stop()
        return self.queue.depth()
