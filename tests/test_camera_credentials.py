"""A camera URL with a user name, password and token (``rtsp://user:pass@host/...?token=``)
never leaves the daemon as it is: not on the status page (readable without a password on
loopback), in the log, on the MQTT stats topic, or in systemd's ``STATUS=`` (which any
local user reads with ``systemctl status``). Against the real daemon, a loopback MJPEG
camera, a real mosquitto and a datagram socket standing in for systemd's."""

import http.client
import json
import os
import socket
import tempfile
import time
from pathlib import Path

from tests.conftest import TOPIC, start_daemon, terminate
from tests.mjpeg_camera import MjpegCamera, empty_scene
from workbench.local_broker import Listener, free_port

SECRETS = ("cam-secret", "tok-secret", "camuser")


def test_camera_credentials_are_redacted_everywhere_they_are_shown(broker, tmp_path):
    camera = MjpegCamera(empty_scene())
    device = camera.url.replace("http://", "http://camuser:cam-secret@") + "?token=tok-secret"
    shown = camera.url.replace("http://", "http://***@") + "?token=***"
    listener = Listener(broker.port, f"{TOPIC}/stats")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="mw-") as folder:
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(Path(folder) / "notify"))
        notify.settimeout(0.2)
        env = {**os.environ, "NOTIFY_SOCKET": str(Path(folder) / "notify")}
        daemon = start_daemon(broker, tmp_path, "--set", "source.kind='capture'",
                              "--set", f"source.device='{device}'", "--set", "source.reopen_max=1",
                              "--set", "mqtt.stats_interval=0.5", "--set", "web.enabled=true",
                              "--set", f"web.listen=127.0.0.1:{port}", env=env)  # fmt: skip
        try:
            messages = receive_until(notify, lambda m: any("WATCHDOG=1" in x for x in m))
            page = status_page(port)
            assert page["health"]["source"] == f"reading camera {shown}", page["health"]
            camera.close()  # the camera goes away: the daemon warns, naming it
            messages += receive_until(notify, lambda m: any("unavailable" in x for x in m))
            assert listener.wait_for(lambda lst: len(lst.payloads(f"{TOPIC}/stats")) >= 2)
            stats = listener.payloads(f"{TOPIC}/stats")
        finally:
            stderr = terminate(daemon)
            notify.close()
            listener.close()
    assert f"camera {shown} stopped delivering frames" in stderr, stderr[-3000:]
    assert f"source.device {shown}: OpenCV cannot open this camera" in stderr, stderr[-3000:]
    assert any(f"camera {shown}" in m for m in messages), messages
    assert any(f"camera {shown}".encode() in payload for payload in stats), stats
    for secret in SECRETS:
        assert secret not in stderr
        assert secret not in json.dumps(page)
        assert not any(secret in m for m in messages)
        assert not any(secret.encode() in payload for payload in stats)


def receive_until(notify, done, timeout=60.0):
    messages, deadline = [], time.monotonic() + timeout
    while not done(messages) and time.monotonic() < deadline:
        try:
            messages.append(notify.recv(4096).decode())
        except TimeoutError:
            continue
    assert done(messages), messages
    return messages


def status_page(port, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/status.json")
            page = json.loads(connection.getresponse().read())
            if page["health"].get("source", "").startswith("reading"):
                return page
        except (ConnectionError, OSError):
            pass
        finally:
            connection.close()
        time.sleep(0.3)
    raise AssertionError("the status page never showed the camera")
