"""What keeps a hostile client from hurting the daemon through the status page.

* :class:`Slots`: at most ``MAX_CLIENTS`` connections are served at once, at most
  ``MAX_PER_CLIENT`` of them from one client (an IPv4 address, an IPv6 /64); the rest are
  answered 503 and closed at once, holding no thread, no buffer and no descriptor.
* :func:`read_head`: the request line and headers within ``REQUEST_DEADLINE`` seconds in
  all (not per read: a byte every few seconds does not hold a connection), at most
  ``MAX_HEAD_BYTES`` and ``MAX_HEADERS`` lines, before anything else is done with them.
* :class:`Lockout`: after ``MAX_FAILURES`` wrong passwords a client is refused (429)
  for ``LOCKOUT_SECONDS``, every further wrong one locks it again; failures are logged as
  a count at most once a minute, not a line each.
"""

import ipaddress
import logging
import re
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

log = logging.getLogger(__name__)

MAX_CLIENTS = 8
MAX_PER_CLIENT = 4
REQUEST_DEADLINE = 10.0  # seconds for the request line and headers, in all
MAX_HEAD_BYTES = 8192
MAX_HEADERS = 32
MAX_FAILURES = 5
LOCKOUT_SECONDS = 60.0
REMEMBERED_CLIENTS = 1024  # clients whose failures are remembered; the oldest go first
LOG_EVERY = 60.0  # seconds between lines about wrong passwords
END_OF_HEAD = re.compile(rb"\r?\n\r?\n")


def client_of(address: str) -> str:
    """Who a connection comes from: its IPv4 address, or its IPv6 /64 (one host has many
    addresses in its /64, an attacker too)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d, an IPv4 client of a dual-stack socket
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


class Refused(Exception):
    """A request answered with ``status`` and closed, unread."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status, self.reason = status, reason

    def response(self) -> bytes:
        return (f"HTTP/1.0 {self.status} {self.reason}\r\nContent-Length: 0\r\n"
                "Connection: close\r\n\r\n").encode()  # fmt: skip


BUSY = Refused(503, "Service Unavailable")


def refuse(connection: socket.socket, refused: Refused) -> None:
    """Answer without waiting on the client (a full send buffer drops the answer), close."""
    try:
        connection.setblocking(False)
        connection.send(refused.response())
    except OSError:
        pass
    finally:
        connection.close()


class Slots:
    """Connections being served, in all and per client."""

    def __init__(self, total: int = MAX_CLIENTS, per_client: int = MAX_PER_CLIENT) -> None:
        self.total, self.per_client = total, per_client
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> bool:
        with self._lock:
            if sum(self._held.values()) >= self.total or (
                self._held.get(client, 0) >= self.per_client
            ):
                return False
            self._held[client] = self._held.get(client, 0) + 1
            return True

    def give_back(self, client: str) -> None:
        with self._lock:
            self._held[client] -= 1
            if not self._held[client]:
                del self._held[client]


def read_head(connection: socket.socket, deadline: float) -> bytes:
    """The request line and headers (and whatever followed them in the same reads), read
    by ``deadline`` (a ``time.monotonic()`` value) within the limits; :class:`Refused`
    otherwise, ``ConnectionError`` when the client leaves first."""
    data = b""
    while not END_OF_HEAD.search(data):
        if len(data) > MAX_HEAD_BYTES:
            raise Refused(431, "Request Header Fields Too Large")
        left = deadline - time.monotonic()
        if left <= 0:
            raise Refused(408, "Request Timeout")
        connection.settimeout(left)
        try:
            chunk = connection.recv(MAX_HEAD_BYTES + 1 - len(data))
        except TimeoutError:
            raise Refused(408, "Request Timeout") from None
        if not chunk:
            raise ConnectionError("the client left mid-request")
        data += chunk
    head = data[: END_OF_HEAD.search(data).start()]
    if head.count(b"\n") > MAX_HEADERS:
        raise Refused(431, "Request Header Fields Too Large")
    return data


class Lockout:
    """Wrong passwords per client; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()  # count, locked until
        self._lock = threading.Lock()
        self._unlogged = 0
        self._unlogged_from: set[str] = set()
        self._next_line = 0.0

    def locked(self, client: str) -> float:
        """Seconds ``client`` stays locked out (0: not locked)."""
        with self._lock:
            _, until = self._failures.get(client, (0, 0.0))
            return max(0.0, until - self._clock())

    def failed(self, client: str) -> None:
        now = self._clock()
        with self._lock:
            count = self._failures.pop(client, (0, 0.0))[0] + 1
            until = now + LOCKOUT_SECONDS if count >= MAX_FAILURES else 0.0
            self._failures[client] = (count, until)
            if len(self._failures) > REMEMBERED_CLIENTS:
                self._failures.popitem(last=False)
            self._unlogged += 1
            self._unlogged_from.add(client)
            if now >= self._next_line:
                self._log(now)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)

    def _log(self, now: float) -> None:
        locked = sum(1 for _, until in self._failures.values() if until > now)
        log.warning("status page: %d wrong passwords in the last %.0f s from %d clients "
                    "(%d locked out for %.0f s after %d)", self._unlogged, LOG_EVERY,
                    len(self._unlogged_from), locked, LOCKOUT_SECONDS, MAX_FAILURES)  # fmt: skip
        self._unlogged, self._unlogged_from = 0, set()
        self._next_line = now + LOG_EVERY
