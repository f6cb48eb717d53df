"""The status page (``[web]``): a live view, counts, health and recent events, to aim the camera.

The server is the standard library's :class:`http.server.HTTPServer` with a thread per
connection, at most ``MAX_CLIENTS`` at once: the page has four routes, one viewer or two,
a few frames a second, and a framework (Flask, aiohttp, ...) would add megabytes and a
dependency to pin on a Pi for routing we do not need. What a hostile client meets first
(bounded connections, a deadline and a size for each request, a lockout after wrong
passwords) is in :mod:`maskwatch.service.web_guard`: the camera and MQTT must not notice
it.

Off by default. It listens on loopback (reach it through ``ssh -L``) unless ``web.listen``
says otherwise, and any other address needs a password (HTTP Basic, any user name,
compared in constant time). Basic auth sends the password with every request, readable
on the network over plain HTTP: ``web.certfile`` / ``web.keyfile`` serve HTTPS instead.
Without a password the ``Host`` header must name an IP address or localhost, so a web
site cannot reach the page through DNS rebinding. The page reads; it cannot change
anything, the configuration least of all.
"""

import base64
import binascii
import hmac
import io
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer

from maskwatch.core.config import Config, WebConfig
from maskwatch.core.credentials import read_secret
from maskwatch.core.errors import ConfigError
from maskwatch.service.live_view import LiveView
from maskwatch.service.web_guard import (
    BUSY,
    REQUEST_DEADLINE,
    Lockout,
    Refused,
    Slots,
    client_of,
    read_head,
    refuse,
)
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


def basic_password(authorization: str) -> bytes | None:
    """The password of an ``Authorization: Basic`` header; None without one."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return base64.b64decode(encoded, validate=True).partition(b":")[2]
    except (binascii.Error, ValueError):
        return b""


class StatusHandler(BaseHTTPRequestHandler):
    server: "StatusServer"
    server_version = "maskwatch"
    sys_version = ""
    timeout = 10  # seconds a viewer may take no data before it is dropped

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def handle(self) -> None:
        """One request per connection, its head read within the guard's limits first."""
        try:
            head = read_head(self.connection, time.monotonic() + REQUEST_DEADLINE)
        except Refused as refused:
            self.connection.sendall(refused.response())
            return
        self.rfile = io.BytesIO(head)
        self.connection.settimeout(self.timeout)
        self.handle_one_request()

    def _allowed(self) -> bool:
        password = self.server.password
        if password is None:
            if names_an_address(self.headers.get("Host", "")):
                return True
            self._send(HTTPStatus.FORBIDDEN, b"open the page by address, e.g. localhost\n",
                       "text/plain")  # fmt: skip
            return False
        client = client_of(self.client_address[0])
        given = basic_password(self.headers.get("Authorization", ""))
        locked = self.server.lockout.locked(client)
        if given is not None and locked:
            self._send(HTTPStatus.TOO_MANY_REQUESTS, b"too many wrong passwords, wait\n",
                       "text/plain", {"Retry-After": str(round(locked) + 1)})  # fmt: skip
            return False
        if given is not None and hmac.compare_digest(given, password.encode()):
            self.server.lockout.succeeded(client)
            return True
        if given is not None:  # a browser's first request has none: not an attempt
            self.server.lockout.failed(client)
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


class StatusServer(HTTPServer):
    request_queue_size = 16  # connections waiting to be accepted; the kernel drops more

    def __init__(self, web: WebConfig, view: LiveView, password: str | None, device: str
                 ) -> None:  # fmt: skip
        host, port = web.address
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.view, self.password, self.device = view, password, device
        self.stopping = threading.Event()
        self.slots = Slots()
        self.lockout = Lockout()
        self.tls = tls_context(web)
        try:
            super().__init__((host, port), StatusHandler)
        except OSError as error:
            raise ConfigError(
                f"config key web.listen: cannot listen on {web.listen} ({error.strerror}); "
                "is maskwatch already running? Else choose another address or port"
            ) from None
        self._thread = threading.Thread(target=self.serve_forever, name="web", daemon=True)

    def process_request(self, request: socket.socket, client_address: tuple) -> None:
        """Served in a thread of its own while a slot is free; else refused at once."""
        client = client_of(client_address[0])
        if not self.slots.take(client):
            refuse(request, BUSY)
            return
        threading.Thread(target=self._serve, args=(request, client_address, client),
                         name="web-client", daemon=True).start()  # fmt: skip

    def _serve(self, request: socket.socket, client_address: tuple, client: str) -> None:
        try:
            if self.tls is not None:
                request = self._handshake(request)
            self.finish_request(request, client_address)
        except (OSError, ValueError) as error:  # the client left, or spoke no HTTP(S)
            log.debug("status page: %s: %s", client_address[0], error)
        finally:
            self.shutdown_request(request)
            self.slots.give_back(client)

    def _handshake(self, request: socket.socket) -> ssl.SSLSocket:
        """TLS, within the same deadline as a request's head."""
        secure = self.tls.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
        try:
            secure.settimeout(REQUEST_DEADLINE)
            secure.do_handshake()
        except OSError:
            secure.close()
            raise
        return secure

    def start(self, health: Callable[[], dict]) -> None:
        """Serve in the background; ``health`` is called in the frame loop, see LiveView."""
        self.view.health = health
        self._thread.start()
        scheme = "https" if self.tls else "http"
        log.info("status page on %s://%s/%s", scheme, self.view.web.listen,
                 " (password protected)" if self.password else "")  # fmt: skip
        if self.password and not self.tls:
            log.warning("status page: its password crosses the network readable (HTTP Basic "
                        "without TLS): set web.certfile and web.keyfile, or put a reverse "
                        "proxy with TLS in front (README)")  # fmt: skip

    def stop(self) -> None:
        self.stopping.set()
        self.view.close()
        if self._thread.is_alive():
            self.shutdown()
        self.server_close()


def tls_context(web: WebConfig) -> ssl.SSLContext | None:
    """HTTPS with ``web.certfile`` (and ``web.keyfile``), or None for plain HTTP."""
    if web.certfile is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(web.certfile, web.keyfile)
    except (OSError, ssl.SSLError) as error:
        raise ConfigError(
            f"config key web.certfile / web.keyfile: cannot load {web.certfile} "
            f"({getattr(error, 'strerror', None) or error}); give a PEM certificate and its key"
        ) from None
    return context


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
