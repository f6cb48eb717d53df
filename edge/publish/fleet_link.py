"""One MQTT connection for a fleet's own messages: roll-out commands, bundle chunks,
reports and health (docs/fleet.md). A device keeps it beside the events' connection, so
that a download of several megabytes never holds up an event; the fleet's admin commands
use it to publish bundles and read the retained topics.
"""

import logging
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt

from maskwatch.core.config import MqttConfig
from maskwatch.core.errors import MaskwatchError
from maskwatch.publish.mqtt import configure_security, guarded

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes], None]


class LinkError(MaskwatchError):
    """The broker cannot be reached, refused us, or did not acknowledge in time."""


class FleetLink:
    def __init__(self, config: MqttConfig, client_id: str, password: str | None,
                 will: tuple[str, str] | None = None) -> None:  # fmt: skip
        """``will``: a retained topic and payload the broker publishes if we vanish."""
        self.config = config
        self.connected = threading.Event()
        self.refused = ""  # the broker's reason, when it refused the connection
        self.on_message: Handler = lambda topic, payload: None
        self._topics: set[str] = set()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        configure_security(self._client, config, password)
        if will:
            self._client.will_set(will[0], will[1], qos=1, retain=True)
        self._client.reconnect_delay_set(min_delay=1, max_delay=round(config.reconnect_max))
        self._client.on_connect = guarded(self._on_connect)
        self._client.on_disconnect = guarded(self._on_disconnect)
        self._client.on_message = guarded(self._on_message)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if reason_code.is_failure:
            self.refused = str(reason_code)
            log.error("broker %s:%s refused the fleet connection: %s (is this device's broker "
                      "user still in the password file?)", self.config.host, self.config.port,
                      reason_code)  # fmt: skip
            return
        self.refused = ""
        for topic in sorted(self._topics):
            client.subscribe(topic, qos=1)
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        self.connected.clear()

    def _on_message(self, client, userdata, message) -> None:  # noqa: ANN001
        self.on_message(message.topic, message.payload)

    def start(self) -> "FleetLink":
        self._client.connect_async(self.config.host, self.config.port, self.config.keepalive)
        self._client.loop_start()
        return self

    def wait_connected(self, timeout: float = 10.0) -> None:
        """For commands run by hand: connected, or one line saying why not."""
        if not self.connected.wait(timeout):
            where = f"{self.config.host}:{self.config.port}"
            why = f"it refused us ({self.refused})" if self.refused else "no answer"
            raise LinkError(f"broker {where}: {why}; check [mqtt] host, port, username and "
                            "password in the config")  # fmt: skip

    def subscribe(self, topic: str) -> None:
        self._topics.add(topic)
        if self.connected.is_set():
            self._client.subscribe(topic, qos=1)

    def unsubscribe(self, topic: str) -> None:
        self._topics.discard(topic)
        if self.connected.is_set():
            self._client.unsubscribe(topic)

    def publish(self, topic: str, payload: str | bytes, retain: bool = True,
                wait: float | None = None) -> None:  # fmt: skip
        """QoS 1; with ``wait``, until the broker acknowledged it (or :class:`LinkError`)."""
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if wait is None:
            return
        try:
            info.wait_for_publish(wait)
        except (RuntimeError, ValueError) as error:
            raise LinkError(f"publishing {topic}: {error}") from None
        if not info.is_published():
            raise LinkError(f"publishing {topic}: no acknowledgement from the broker in {wait} s")

    def retained(self, pattern: str, quiet: float = 1.0, timeout: float = 10.0) -> dict[str, bytes]:
        """The retained messages under ``pattern``: collected until none came for ``quiet``
        seconds (the broker sends them all at once on subscribing)."""
        found: dict[str, bytes] = {}
        last = [time.monotonic()]
        matches = lambda topic: mqtt.topic_matches_sub(pattern, topic)  # noqa: E731
        previous = self.on_message

        def collect(topic: str, payload: bytes) -> None:
            if matches(topic):
                found[topic] = payload
                last[0] = time.monotonic()
            previous(topic, payload)

        self.on_message = collect
        self.subscribe(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() - last[0] < quiet and time.monotonic() < deadline:
            time.sleep(0.05)
        self.unsubscribe(pattern)
        self.on_message = previous
        return {topic: payload for topic, payload in found.items() if payload}

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
