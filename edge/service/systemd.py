"""The systemd notify protocol (``sd_notify``) without a dependency: one datagram per message.

``READY=1`` once the first frame is processed, ``WATCHDOG=1`` from the frame loop at half
the unit's ``WatchdogSec`` (so a hung camera stops the pings and systemd restarts the
daemon), and ``STATUS=`` with the frame rate. Outside systemd (no ``NOTIFY_SOCKET``)
every call is a no-op.
"""

import logging
import os
import socket
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # an abstract socket
            address = "\0" + address[1:]
        self._address = address
        self._socket: socket.socket | None = None
        if address:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        watchdog_usec = int(environ.get("WATCHDOG_USEC", "0") or 0)
        self.watchdog_interval = watchdog_usec / 2e6 if watchdog_usec else 1.0
        self._last_ping = float("-inf")
        self.ready = False

    def send(self, message: str) -> None:
        if self._socket is None:
            return
        try:
            self._socket.sendto(message.encode(), self._address)
        except OSError as error:
            log.warning("sd_notify to %s failed: %s", self._address, error)

    def frame_done(self, status: Callable[[], str]) -> None:
        """A frame went through: ``READY=1`` the first time, then watchdog pings.
        ``status`` is called only when a message goes out, not on every frame."""
        if not self.ready:
            self.ready = True
            self.send(f"READY=1\nSTATUS={status()}")
            self._last_ping = time.monotonic()
            return
        self.idle(status)

    def idle(self, status: Callable[[], str]) -> None:
        """Alive without a frame (a camera being reopened): keep pinging once ready."""
        now = time.monotonic()
        if self.ready and now - self._last_ping >= self.watchdog_interval:
            self.send(f"WATCHDOG=1\nSTATUS={status()}")
            self._last_ping = now

    def stopping(self) -> None:
        self.send("STOPPING=1")
