"""The status page (``[web]``): a live view, counts, health and recent events, to aim the camera.

The server is the standard library's :class:`http.server.ThreadingHTTPServer`. The page
has four routes, one viewer or two, a few frames a second: a framework (Flask, aiohttp,
...) would add megabytes and a dependency to pin on a Pi for routing we do not need, and
an event loop would still have to hand the encoding to threads. A thread per connection
needs nothing from the hardened unit beyond the AF_INET socket it already allows.

Off by default. It listens on loopback (reach it through ``ssh -L``) unless ``web.listen``
says otherwise, and any other address needs a password (HTTP Basic, any user name,
compared in constant time). Without a password the ``Host`` header must name an IP
address or localhost, so a web site cannot reach the page through DNS rebinding. The
page reads; it cannot change anything, the configuration least of all.
"""

import base64
import binascii
import hmac
import ipaddress
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from maskwatch.core.config import Config, WebConfig
from maskwatch.core.credentials import read_secret
from maskwatch.core.errors import ConfigError
from maskwatch.service.live_view import LiveView
from maskwatch.service.web_page import PAGE_HTML, PAGE_JS

log = logging.getLogger(__name__)

CREDENTIAL_NAME = "web_password"  # systemd LoadCredential=web_password:...
PASSWORD_VARIABLE = "MASKWATCH_WEB_PASSWORD"
BOUNDARY = b"frame"
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'",
}


def read_web_password(config: WebConfig, environ: dict[str, str] | None = None) -> str | None:
    """``web.password_file``, else the systemd credential, else the environment."""
    return read_secret("web.password_file", config.password_file, CREDENTIAL_NAME,
                       PASSWORD_VARIABLE, environ)  # fmt: skip


def names_an_address(host_header: str) -> bool:
    """True when a ``Host`` header (``host``, ``host:port``, ``[v6]:port``) names an IP
    address or localhost, not a DNS name."""
    if host_header.startswith("["):
        host = host_header[1:].partition("]")[0]
    else:
        host = host_header.partition(":")[0]
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class StatusHandler(BaseHTTPRequestHandler):
    server: "StatusServer"
    server_version = "maskwatch"
    sys_version = ""
    timeout = 30  # seconds a stalled client may hold its thread

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _allowed(self) -> bool:
        password = self.server.password
        if password is None:
            if names_an_address(self.headers.get("Host", "")):
                return True
            self._send(HTTPStatus.FORBIDDEN, b"open the page by address, e.g. localhost\n",
                       "text/plain")  # fmt: skip
            return False
        scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
        try:
            given = base64.b64decode(encoded, validate=True).partition(b":")[2]
        except (binascii.Error, ValueError):
            given = b""
        if scheme.lower() == "basic" and hmac.compare_digest(given, password.encode()):
            return True
        log.info("status page: wrong or missing password from %s", self.client_address[0])
        self._send(HTTPStatus.UNAUTHORIZED, b"password needed\n", "text/plain",
                   {"WWW-Authenticate": 'Basic realm="maskwatch", charset="UTF-8"'})  # fmt: skip
        return False

    def _send(self, status: HTTPStatus, body: bytes, kind: str, extra: dict | None = None
              ) -> None:  # fmt: skip
        self.send_response(status)
        for name, value in {**HEADERS, "Content-Type": kind, **(extra or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if not self._allowed():
            return
        path = self.path.partition("?")[0]
        view = self.server.view
        if path == "/":
            self._send(HTTPStatus.OK, PAGE_HTML.encode(), "text/html; charset=utf-8")
        elif path == "/page.js":
            self._send(HTTPStatus.OK, PAGE_JS.encode(), "text/javascript; charset=utf-8")
        elif path == "/status.json":
            body = json.dumps({"device": self.server.device, **view.status()}).encode()
            self._send(HTTPStatus.OK, body, "application/json")
        elif path == "/stream.mjpg":
            self._stream(view)
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")

    def _stream(self, view: LiveView) -> None:
        """MJPEG: each part is sent with the next boundary right behind it, so browsers
        show it at once; paced at ``web.fps``; ends when the client leaves."""
        self.send_response(HTTPStatus.OK)
        for name, value in HEADERS.items():
            self.send_header(name, value)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY.decode()}")
        self.end_headers()
        period = 1.0 / view.web.fps
        seq, due = 0, time.monotonic()
        with view.viewer():
            try:
                self.wfile.write(b"--" + BOUNDARY + b"\r\n")
                while not self.server.stopping.is_set():
                    time.sleep(max(0.0, due - time.monotonic()))
                    frame = view.next_jpeg(seq, timeout=1.0)
                    if frame is None:
                        continue
                    seq, jpeg = frame
                    due = time.monotonic() + period
                    head = f"Content-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                    self.wfile.write(head.encode() + jpeg + b"\r\n--" + BOUNDARY + b"\r\n")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                pass  # the viewer left


class StatusServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, web: WebConfig, view: LiveView, password: str | None, device: str
                 ) -> None:  # fmt: skip
        host, port = web.address
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.view, self.password, self.device = view, password, device
        self.stopping = threading.Event()
        try:
            super().__init__((host, port), StatusHandler)
        except OSError as error:
            raise ConfigError(
                f"config key web.listen: cannot listen on {web.listen} ({error.strerror}); "
                "is maskwatch already running? Else choose another address or port"
            ) from None
        self._thread = threading.Thread(target=self.serve_forever, name="web", daemon=True)

    def start(self, health: Callable[[], dict]) -> None:
        """Serve in the background; ``health`` is called in the frame loop, see LiveView."""
        self.view.health = health
        self._thread.start()
        log.info("status page on http://%s/%s", self.view.web.listen,
                 " (password protected)" if self.password else "")  # fmt: skip

    def stop(self) -> None:
        self.stopping.set()
        self.view.close()
        if self._thread.is_alive():
            self.shutdown()
        self.server_close()


def open_status_page(config: Config, environ: dict[str, str] | None = None) -> StatusServer:
    """The ``[web]`` server, bound but not yet serving; refuses a reachable page without a
    password (exit 78)."""
    password = read_web_password(config.web, environ)
    if password is None and not config.web.loopback:
        raise ConfigError(
            f"config key web.password_file: web.listen {config.web.listen} is reachable from "
            "the network, so the page needs a password: set web.password_file (or the "
            f"systemd credential {CREDENTIAL_NAME}, or {PASSWORD_VARIABLE}), or listen on "
            "127.0.0.1 and use ssh -L"
        )
    return StatusServer(config.web, LiveView(config.web, config.pipeline), password,
                        config.device_id)  # fmt: skip
