"""A real mosquitto on a free loopback port, for the demo and the tests.

It runs ``config/mosquitto.conf`` with the listener moved to a free port.
"""

import getpass
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

BROKER_CONFIG = Path(__file__).resolve().parent.parent / "config" / "mosquitto.conf"


def find_mosquitto() -> str:
    path = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if not path:
        raise RuntimeError(
            "mosquitto is not installed; install it with 'apt-get install mosquitto' "
            "(or run 'make system-deps' as root)"
        )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalBroker:
    """``with LocalBroker() as broker: ... broker.port``; ``stop``/``start`` to simulate outages."""

    def __init__(self, port: int | None = None, persistent: bool = False, extra: str = "") -> None:
        """``persistent`` keeps sessions and queued QoS 1 messages across stop / start;
        ``extra`` adds configuration, such as a second listener with TLS and passwords
        (each listener has its own security settings)."""
        self.port = port or free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="maskwatch-broker-")
        self.config_path = Path(self._dir.name) / "mosquitto.conf"
        text = re.sub(r"(?m)^listener \d+", f"listener {self.port}", BROKER_CONFIG.read_text())
        if persistent:
            text = re.sub(r"(?m)^persistence false$", "persistence true", text)
            text += f"persistence_location {self._dir.name}/\n"
        # Started as root, mosquitto switches to the 'mosquitto' user, which may not write
        # the persistence file into this private folder: it stays as whoever starts it.
        user = f"user {getpass.getuser()}\n"
        self.config_path.write_text(f"per_listener_settings true\n{user}{text}{extra}")
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> "LocalBroker":
        self._process = subprocess.Popen(
            [find_mosquitto(), "-c", str(self.config_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                error = self._process.stderr.read().decode(errors="replace").strip()
                raise RuntimeError(f"mosquitto exited at start: {error}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on 127.0.0.1:{self.port} in {timeout} s")

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, 9)
                self._process.wait()
        self._process = None

    def reload(self) -> None:
        """SIGHUP: mosquitto reads its password file and ACL again (a revoked user)."""
        if self._process and self._process.poll() is None:
            self._process.send_signal(signal.SIGHUP)

    def __enter__(self) -> "LocalBroker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._dir.cleanup()


def secured_listener(port: int, password_file: Path, acl_file: Path) -> str:
    """A second loopback listener (``extra``) with a password file and an ACL, such as
    ``maskwatch fleet provision`` writes; the broker's own listener stays anonymous."""
    return (
        f"listener {port} 127.0.0.1\nallow_anonymous false\n"
        f"password_file {password_file}\nacl_file {acl_file}\n"
    )


class Listener:
    """Subscribes to ``topic`` and records every message; ``echo`` prints them as they arrive."""

    def __init__(self, port: int, topic: str = "#", echo: bool = False, session: str = "",
                 user: tuple[str, str] | None = None) -> None:  # fmt: skip
        """``session``: a client id whose subscription the broker keeps while it is away;
        ``user``: a user name and password to connect with."""
        self.messages: list[tuple[str, bytes, bool]] = []
        self._echo = echo
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=session, clean_session=not session
        )
        self._client.reconnect_delay_set(min_delay=1, max_delay=2)  # back soon after outages
        self._client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self._client.on_subscribe = lambda c, u, mid, rc, p: self._subscribed.set()
        self._client.on_message = self._on_message
        if user:
            self._client.username_pw_set(*user)
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError(f"could not subscribe to {topic} on 127.0.0.1:{port}")

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload, bool(message.retain)))
        if self._echo:
            print(f"{message.topic}  {message.payload.decode(errors='replace')}", flush=True)

    def payloads(self, topic: str) -> list[bytes]:
        with self._lock:
            return [payload for t, payload, _ in self.messages if t == topic]

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.05)
        return predicate(self)

    def publish(self, topic: str, payload: str | bytes, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
