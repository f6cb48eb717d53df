"""Publishing to an MQTT broker with paho-mqtt 2.x (callback API version 2).

A retained ``availability`` topic says ``online``; the broker's last will turns it
``offline`` if the daemon dies, and a clean stop sets it ``offline`` itself.
Events published while the broker is away stay in paho's queue and go out on
reconnect; the broker's PUBACK (``on_publish``) is what counts as delivered.
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
        self.state_topic = f"{self.base}/state"
        self.no_mask_topic = f"{self.base}/no_mask"
        self.connected = threading.Event()
        self._lock = threading.Lock()
        self._unacked: set[int] = set()  # message ids sent or queued, not yet acknowledged
        self._acked_early: set[int] = set()  # acknowledged before publish() returned its id
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=config.client_id or f"maskwatch-{device}",
        )
        self._client.will_set(self.availability_topic, OFFLINE, qos=1, retain=True)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
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

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:  # noqa: ANN001
        with self._lock:
            if mid in self._unacked:
                self._unacked.discard(mid)
            else:
                self._acked_early.add(mid)

    def _track(self, info: mqtt.MQTTMessageInfo) -> int:
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            raise RuntimeError("paho's outgoing queue is full")
        with self._lock:
            if info.mid in self._acked_early:
                self._acked_early.discard(info.mid)
            else:
                self._unacked.add(info.mid)
        return info.mid

    def start(self) -> None:
        """Connect in the background; paho reconnects with backoff after a loss."""
        self._client.connect_async(self.config.host, self.config.port, self.config.keepalive)
        self._client.loop_start()

    def publish_event(self, event: dict) -> None:
        """Queue one event (QoS from the config); paho resends it after a reconnect."""
        payload = json.dumps(event, separators=(",", ":"))
        self._track(self._client.publish(self.events_topic, payload, qos=self.config.qos))

    def publish_state(self, mask: int, no_mask: int) -> None:
        """Retained: who is in view now, and ``ON`` while anyone unmasked is."""
        state = {"faces": mask + no_mask, "mask": mask, "no_mask": no_mask}
        self._track(self._client.publish(self.state_topic, json.dumps(state), qos=1, retain=True))
        alarm = "ON" if no_mask else "OFF"
        self._track(self._client.publish(self.no_mask_topic, alarm, qos=1, retain=True))

    def undelivered(self) -> int:
        with self._lock:
            return len(self._unacked)

    def stop(self, timeout: float = 5.0) -> int:
        """Flush queued events, publish ``offline``, disconnect. Returns events not delivered."""
        deadline = time.monotonic() + timeout
        # A connection still being made gets its chance to deliver the queue.
        self.connected.wait(timeout / 2)
        offline = self._track(
            self._client.publish(self.availability_topic, OFFLINE, qos=1, retain=True)
        )
        while self.undelivered() and self.connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
        with self._lock:
            lost = len(self._unacked - {offline})
        self._client.disconnect()
        self._client.loop_stop()
        return lost
