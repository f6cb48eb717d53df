"""``maskwatch check``: is this device ready to run? One line per part, non-zero on failure.

Checks the configuration, the bundle (both models loaded), the frame source (one frame
read), the event queue (opened and written to: a full or read-only card is reported as a
degraded queue), the broker (connected and accepted, with TLS and the password as
configured) and, when ``[web]`` is enabled, the status page (its address free, a password
where one is needed). Nothing is published.
"""

import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt

from maskwatch.core.bundle import load_bundle
from maskwatch.core.config import Config
from maskwatch.core.errors import MaskwatchError
from maskwatch.publish.event_queue import EventQueue, QueueUnavailable
from maskwatch.publish.mqtt import configure_security, read_password
from maskwatch.publish.outbox import WRITE_ERRORS, max_pages
from maskwatch.service.sources import open_source
from maskwatch.service.web import open_status_page
from maskwatch.vision.pipeline import MaskPipeline

FIRST_FRAME_TIMEOUT = 10.0
BROKER_TIMEOUT = 5.0


def check_bundle(config: Config) -> str:
    bundle = load_bundle(config.bundle.path)
    MaskPipeline.from_config(bundle, config.pipeline)
    manifest = bundle.manifest
    return f"{config.bundle.path} ({manifest.detector.kind} + {manifest.classifier.file})"


def check_source(config: Config) -> str:
    source = open_source(config.source)
    frames = source.frames()
    deadline = time.monotonic() + FIRST_FRAME_TIMEOUT
    try:
        while time.monotonic() < deadline:
            frame = next(frames, StopIteration)
            if frame is StopIteration:
                raise MaskwatchError("the source ended without a readable frame")
            if frame is not None:
                height, width = frame.image.shape[:2]
                return f"{config.source.kind}: first frame {width}x{height}"
        raise MaskwatchError(f"no frame within {FIRST_FRAME_TIMEOUT:.0f} s ({source.status})")
    finally:
        frames.close()
        source.close()


def check_queue(config: Config) -> str:
    """Opened (a corrupt file is set aside, as at start) and written to, as events are."""
    try:
        queue = EventQueue(config.queue.file, config.queue.max_events, max_pages(config.queue))
    except QueueUnavailable as error:
        raise MaskwatchError(f"degraded, events would be held in memory only: {error}") from None
    try:
        queue.probe()
        return f"{config.queue.file} ({queue.depth()} events waiting)"
    except WRITE_ERRORS as error:
        raise MaskwatchError(
            f"degraded, events would be held in memory only: {config.queue.file} cannot be "
            f"written ({error}); free space on the card, or check it (dmesg)"
        ) from None
    finally:
        queue.close()


def check_broker(config: Config) -> str:
    settings = config.mqtt
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"maskwatch-check-{config.device_slug}"
    )
    configure_security(client, settings, read_password(settings))
    answer: list = []
    answered = threading.Event()

    def on_connect(client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        answer.append(reason_code)
        answered.set()

    client.on_connect = on_connect
    try:
        client.connect(settings.host, settings.port, keepalive=10)
    except OSError as error:
        raise MaskwatchError(f"{settings.host}:{settings.port} unreachable ({error})") from None
    client.loop_start()
    try:
        if not answered.wait(BROKER_TIMEOUT):
            raise MaskwatchError(f"{settings.host}:{settings.port} did not answer the connect")
        if answer[0].is_failure:
            raise MaskwatchError(f"{settings.host}:{settings.port} refused: {answer[0]}")
    finally:
        client.disconnect()
        client.loop_stop()
    security = ", TLS" if settings.tls else ""
    user = f", user {settings.username}" if settings.username else ""
    return f"{settings.host}:{settings.port}{security}{user}"


def check_web(config: Config) -> str:
    server = open_status_page(config)
    server.server_close()
    if server.password is not None:
        return f"http://{config.web.listen}/, password protected"
    port = config.web.address[1]
    return f"http://{config.web.listen}/, loopback: ssh -L {port}:localhost:{port} to this device"


CHECKS: tuple[tuple[str, Callable[[Config], str]], ...] = (
    ("bundle", check_bundle),
    ("source", check_source),
    ("queue", check_queue),
    ("broker", check_broker),
)


def run_checks(config: Config, out: Callable[[str], None]) -> int:
    """Prints ``ok`` or ``FAIL`` per check; returns the number of failures."""
    failures = 0
    for name, check in (*CHECKS, *((("web", check_web),) if config.web.enabled else ())):
        try:
            out(f"{name}: ok, {check(config)}")
        except (MaskwatchError, OSError) as error:
            out(f"{name}: FAIL, {error}")
            failures += 1
    return failures
