"""Publishing to an MQTT broker with paho-mqtt 2.x (callback API version 2).

Events go through the durable :class:`~edge.event_queue.EventQueue`: the frame loop
appends them, a sender thread hands them to paho in order (at most ``window`` not yet
acknowledged), and each leaves the queue when the broker's PUBACK arrives. After a
reconnect, paho first resends what it had in flight; the sender waits for those
acknowledgements before it sends newer events, so subscribers see them in order.
Whatever is still queued when the daemon stops (or dies) is sent at its next start.

Retained topics say what holds now: ``availability`` (the broker's last will turns it
``offline``), ``state`` and ``no_mask``, and Home Assistant's discovery configs, all
published again on every (re)connect and when Home Assistant announces it is back.
"""

import json
import logging
import ssl
import threading
import time

import paho.mqtt.client as mqtt

from edge.config import HomeAssistantConfig, MqttConfig
from edge.credentials import read_secret
from edge.errors import ConfigError
from edge.event_queue import EventQueue
from edge.homeassistant import STATUS_TOPIC_SUFFIX, Topics, discovery_messages

log = logging.getLogger(__name__)

ONLINE, OFFLINE = "online", "offline"
EARLY_ACK_SECONDS = 5.0
CREDENTIAL_NAME = "mqtt_password"  # systemd LoadCredential=mqtt_password:...
PASSWORD_VARIABLE = "MASKWATCH_MQTT_PASSWORD"


def read_password(config: MqttConfig, environ: dict[str, str] | None = None) -> str | None:
    """The broker password: ``password_file``, else the systemd credential, else the
    environment (:func:`~edge.credentials.read_secret`)."""
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


class MqttPublisher:
    def __init__(
        self,
        config: MqttConfig,
        homeassistant: HomeAssistantConfig,
        device_slug: str,
        device_name: str,
        queue: EventQueue,
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
        self._ha_status_topic = f"{homeassistant.prefix}/{STATUS_TOPIC_SUFFIX}"
        self._state: dict | None = None
        self._lock = threading.Lock()
        # mid -> (event seq or None for other messages, the connection it was handed to)
        self._unacked: dict[int, tuple[int | None, int]] = {}
        # mid -> when: acknowledged before publish() returned the mid (QoS 0 messages too:
        # paho reports them sent). Kept a few seconds only, so a mid paho reuses after
        # wrapping around can never match a stale entry.
        self._acked_early: dict[int, float] = {}
        self._connection = 0  # counts connections; events handed to an older one go first
        self._last_sent = 0  # seq of the newest event handed to paho
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._sender = threading.Thread(target=self._send_forever, name="mqtt-sender", daemon=True)
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=config.client_id or f"maskwatch-{device_slug}",
        )
        configure_security(self._client, config, password)
        self._client.will_set(self.topics.availability, OFFLINE, qos=1, retain=True)
        self._client.reconnect_delay_set(min_delay=1, max_delay=round(config.reconnect_max))
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_message = self._on_message

    # paho's network thread -------------------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if reason_code.is_failure:
            log.error("broker %s:%s refused the connection: %s (check mqtt.username and the "
                      "password)", self.config.host, self.config.port, reason_code)  # fmt: skip
            return
        log.info("connected to broker %s:%s", self.config.host, self.config.port)
        with self._lock:
            self._connection += 1
        self._publish(self.topics.availability, ONLINE, retain=True)
        self._announce_to_home_assistant()
        client.subscribe(self._ha_status_topic, qos=1)
        if self._state is not None:
            self._publish_state(self._state)
        self.connected.set()
        self._wake.set()

    def _on_connect_fail(self, client, userdata) -> None:  # noqa: ANN001
        log.warning("cannot connect to broker %s:%s (check mqtt.host, mqtt.port and TLS); "
                    "retrying", self.config.host, self.config.port)  # fmt: skip

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        self.connected.clear()
        if reason_code.value != 0:
            log.warning("lost the broker (%s); reconnecting", reason_code)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:  # noqa: ANN001
        with self._lock:
            if mid not in self._unacked:
                now = time.monotonic()
                self._acked_early = {m: t for m, t in self._acked_early.items()
                                     if now - t < EARLY_ACK_SECONDS}  # fmt: skip
                self._acked_early[mid] = now
                return
            seq, _ = self._unacked.pop(mid)
        if seq is not None:
            self.queue.remove(seq)
            self._wake.set()

    def _on_message(self, client, userdata, message) -> None:  # noqa: ANN001
        if message.topic == self._ha_status_topic and message.payload == b"online":
            log.info("Home Assistant is back: announcing the entities again")
            self._announce_to_home_assistant()
            if self._state is not None:
                self._publish_state(self._state)

    # publishing ------------------------------------------------------------------------

    def _publish(self, topic: str, payload: str | bytes, qos: int = 1, retain: bool = False,
                 seq: int | None = None) -> mqtt.MQTTMessageInfo:  # fmt: skip
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if qos == 0:
            return info
        with self._lock:
            early = self._acked_early.pop(info.mid, None) is not None
            if not early:
                self._unacked[info.mid] = (seq, self._connection)
        if early and seq is not None:
            self.queue.remove(seq)
        return info

    def _announce_to_home_assistant(self) -> None:
        """Discovery configs when enabled; empty retained payloads remove them when not."""
        for topic, payload in self.discovery.items():
            self._publish(topic, payload if self._announce else "", retain=True)

    def _publish_state(self, state: dict) -> None:
        self._publish(self.topics.state, json.dumps(state), retain=True)
        self._publish(self.topics.no_mask, "ON" if state["no_mask"] else "OFF", retain=True)

    def publish_state(self, mask: int, no_mask: int) -> None:
        """Retained: who is in view now, and ``ON`` while anyone unmasked is."""
        self._state = {"faces": mask + no_mask, "mask": mask, "no_mask": no_mask}
        if self.connected.is_set():
            self._publish_state(self._state)

    def publish_event(self, event: dict) -> int:
        """Queue one event durably (it gets its ``seq`` there); returns the seq."""
        seq = self.queue.append(lambda n: json.dumps({**event, "seq": n}, separators=(",", ":")))
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

    def _send_some(self) -> None:
        with self._lock:
            events = [c for seq, c in self._unacked.values() if seq is not None]
            if not self.connected.is_set() or any(c < self._connection for c in events):
                return  # paho resends what an earlier connection left unacknowledged, first
            room = self.config.window - len(events)
        for event in self.queue.after(self._last_sent, room) if room > 0 else ():
            self._publish(self.topics.events, event.payload, qos=self.config.qos, seq=event.seq)
            self._last_sent = event.seq

    def _send_forever(self) -> None:
        while not self._closing.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            self._send_some()

    # life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; paho reconnects with backoff after a loss."""
        self._client.connect_async(self.config.host, self.config.port, self.config.keepalive)
        self._client.loop_start()
        self._sender.start()

    def _awaiting(self, mid: int) -> bool:
        with self._lock:
            return mid in self._unacked

    def stop(self, timeout: float = 3.0) -> int:
        """Deliver what is queued while time allows, publish ``offline``, disconnect.

        Returns how many events stay queued for the next start."""
        deadline = time.monotonic() + timeout
        self.connected.wait(timeout / 2)  # a connection being made gets its chance
        while self.queue.depth() and self.connected.is_set() and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.02)
        self._closing.set()
        self._sender.join(timeout=1.0)
        if self.connected.is_set():
            offline = self._publish(self.topics.availability, OFFLINE, retain=True)
            while self._awaiting(offline.mid) and time.monotonic() < deadline + 0.5:
                time.sleep(0.02)
        self._client.disconnect()
        self._client.loop_stop()
        return self.queue.depth()
