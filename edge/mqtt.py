"""Publishing to an MQTT broker with paho-mqtt 2.x (callback API version 2).

A retained ``availability`` topic says ``online``; the broker's last will turns it
``offline`` if the daemon dies, and a clean stop sets it ``offline`` itself.
"""

import json
import logging
import threading
import time

import paho.mqtt.client as mqtt

from edge.config import MqttConfig

log = logging.getLogger(__name__)

ONLINE, OFFLINE = "online", "offline"


class MqttPublisher:
    def __init__(self, config: MqttConfig, device: str) -> None:
        self.config = config
        self.base = f"{config.topic_prefix}/{device}"
        self.availability_topic = f"{self.base}/availability"
        self.events_topic = f"{self.base}/events"
        self.connected = threading.Event()
        self._pending: list[mqtt.MQTTMessageInfo] = []
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=config.client_id or f"maskwatch-{device}",
        )
        self._client.will_set(self.availability_topic, OFFLINE, qos=1, retain=True)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect

    def _on_connect(self, client: mqtt.Client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if reason_code.is_failure:
            log.error(
                "broker %s:%s refused the connection: %s",
                self.config.host,
                self.config.port,
                reason_code,
            )
            return
        log.info("connected to broker %s:%s", self.config.host, self.config.port)
        client.publish(self.availability_topic, ONLINE, qos=1, retain=True)
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        self.connected.clear()
        if reason_code.value != 0:
            log.warning("lost the broker (%s); reconnecting", reason_code)

    def start(self) -> None:
        """Connect in the background; paho reconnects with backoff after a loss."""
        self._client.connect_async(self.config.host, self.config.port, self.config.keepalive)
        self._client.loop_start()

    def publish_event(self, event: dict) -> None:
        """Queue one event (QoS from the config); paho resends it after a reconnect."""
        info = self._client.publish(
            self.events_topic, json.dumps(event, separators=(",", ":")), qos=self.config.qos
        )
        self._pending.append(info)
        self._pending = [p for p in self._pending if not p.is_published()]

    def undelivered(self) -> int:
        return sum(1 for p in self._pending if not p.is_published())

    def stop(self, timeout: float = 5.0) -> int:
        """Flush queued events, publish ``offline``, disconnect. Returns events not delivered."""
        deadline = time.monotonic() + timeout
        offline = self._client.publish(self.availability_topic, OFFLINE, qos=1, retain=True)
        for info in [*self._pending, offline]:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.connected.is_set():
                break
            try:
                info.wait_for_publish(remaining)
            except (RuntimeError, ValueError):
                break
        lost = self.undelivered()
        self._client.disconnect()
        self._client.loop_stop()
        return lost
