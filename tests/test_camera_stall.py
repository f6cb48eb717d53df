"""A camera that stops sending while an unmasked person is in view: the alarm clears, and
the status page lists the end."""

import http.client
import json
import time

from tests.conftest import TOPIC, start_daemon, terminate
from tests.mjpeg_camera import MjpegCamera, face_scene
from workbench.local_broker import Listener, free_port


def test_the_alarm_clears_while_a_stalled_camera_sends_nothing(broker, clear_faces, tmp_path):
    camera = MjpegCamera(face_scene(clear_faces["no_mask"][0]))
    listener = Listener(broker.port, f"{TOPIC}/#")
    port = free_port()
    daemon = start_daemon(broker, tmp_path, "--set", "source.kind='capture'",
                          "--set", f"source.device='{camera.url}'",
                          "--set", "tracking.end_after=2.0", "--set", "tracking.return_within=1.0",
                          "--set", "web.enabled=true",
                          "--set", f"web.listen=127.0.0.1:{port}")  # fmt: skip
    alarm = f"{TOPIC}/no_mask"
    try:
        assert listener.wait_for(lambda lst: b"ON" in lst.payloads(alarm), timeout=60)
        camera.freeze()  # the stream stays open; no frame comes, ever
        frozen = time.monotonic()
        assert listener.wait_for(lambda lst: lst.payloads(alarm)[-1] == b"OFF", timeout=15)
        assert time.monotonic() - frozen < 2.0 + 3.0  # end_after, plus a frame and a tick
        assert daemon.poll() is None  # still running, waiting for the camera

        def ends(lst: Listener) -> list[dict]:
            events = [json.loads(p) for p in lst.payloads(f"{TOPIC}/events")]
            return [e for e in events if e["type"] == "end" and e["label"] == "no_mask"]

        # the end follows return_within later: they did not come back
        assert listener.wait_for(lambda lst: ends(lst), timeout=10)
        assert time.monotonic() - frozen < 2.0 + 1.0 + 3.0
        assert not any(e.get("recovered") for e in ends(listener))
        latest = page_events(port)[0]  # the status page's newest event
        assert (latest["type"], latest["label"]) == ("end", "no_mask"), latest
        terminate(daemon)
    finally:
        if daemon.poll() is None:
            daemon.kill()
        listener.close()
        camera.close()


def page_events(port: int) -> list[dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/status.json")
    return json.loads(connection.getresponse().read())["events"]
