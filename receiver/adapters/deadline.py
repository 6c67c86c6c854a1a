"""One total deadline per delivery attempt, kept by every socket send and receive of the
attempt's HTTP calls: urllib3's own timeouts restart with each read, so a CRM that trickles
its answer a byte at a time could otherwise hold a delivery past its lease.

    with deadline.within(9.0) as attempt:
        pool.request(...)  # through keeping_deadlines(pool) or DeadlineTransport
"""

import contextlib
import contextvars
import socket
import time

import requests.adapters
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError

# Below half the lease: a batch's delivery starts within 0.2 s of its claim, and the outcome
# must be recorded before the lease lets another worker deliver the same event.
SHARE_OF_LEASE = 0.45
# All the answers of one attempt together: HubSpot's and Zoho's pages of notes run to a few MB.
MAX_ANSWER_BYTES = 32 * 1024 * 1024


def attempt_seconds(lease_seconds: float) -> float:
    """The most one delivery attempt may take with a lease of `lease_seconds`."""
    return lease_seconds * SHARE_OF_LEASE


class AnswerTooLarge(OSError):
    """The attempt's answers ran past MAX_ANSWER_BYTES."""


class Attempt:
    """When the attempt must be over by, what it has received, and why it was cut short."""

    def __init__(self, seconds: float, max_bytes: int | None, outer: "Attempt | None"):
        self.seconds = seconds
        self.ends_at = time.monotonic() + seconds
        if outer is not None and outer.ends_at < self.ends_at:
            self.seconds, self.ends_at = outer.seconds, outer.ends_at
        self.max_bytes = MAX_ANSWER_BYTES if max_bytes is None else max_bytes
        self.outer = outer
        self.received = 0
        self.cut_short: str | None = None  # the reason, once the deadline or the cap is hit

    def remaining(self) -> float:
        return self.ends_at - time.monotonic()

    def chain(self):
        attempt = self
        while attempt is not None:
            yield attempt
            attempt = attempt.outer

    def cut(self, reason: str) -> None:
        for attempt in self.chain():
            attempt.cut_short = attempt.cut_short or reason

    def expire(self) -> TimeoutError:
        self.cut(f"no whole answer within {self.seconds:g} s")
        return TimeoutError(self.cut_short)

    def count(self, size: int) -> None:
        for attempt in self.chain():
            attempt.received += size
            if attempt.received > attempt.max_bytes:
                self.cut(f"answers larger than {attempt.max_bytes} bytes")
                raise AnswerTooLarge(self.cut_short)


_current: contextvars.ContextVar[Attempt | None] = contextvars.ContextVar(
    "receiver_attempt", default=None)


@contextlib.contextmanager
def within(seconds: float, max_bytes: int | None = None):
    """Run the block's HTTP calls under one deadline, `seconds` from now or the enclosing
    block's if that is sooner, and one cap on the bytes they receive (MAX_ANSWER_BYTES)."""
    attempt = Attempt(seconds, max_bytes, _current.get())
    token = _current.set(attempt)
    try:
        yield attempt
    finally:
        _current.reset(token)


class DeadlineSocket:
    """A connected socket whose every send and receive ends by the current attempt's deadline."""

    makefile = socket.socket.makefile  # http.client reads answers through it: via this class

    def __init__(self, sock):
        self._sock = sock
        self._timeout = sock.gettimeout()  # the per-call timeout urllib3 sets, kept as a bound
        self._io_refs = 0
        self._closed = False

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def settimeout(self, value):
        self._timeout = value
        self._sock.settimeout(value)

    def gettimeout(self):
        return self._timeout

    def _call(self, method, *args):
        attempt = _current.get()
        if attempt is None:
            self._sock.settimeout(self._timeout)
            return method(*args)
        remaining = attempt.remaining()
        if remaining <= 0:
            raise attempt.expire()
        self._sock.settimeout(remaining if self._timeout is None else min(self._timeout, remaining))
        try:
            return method(*args)
        except TimeoutError:
            if attempt.remaining() <= 0:
                raise attempt.expire() from None
            raise

    def recv(self, *args):
        data = self._call(self._sock.recv, *args)
        self._count(len(data))
        return data

    def recv_into(self, *args):
        size = self._call(self._sock.recv_into, *args)
        self._count(size)
        return size

    def send(self, *args):
        return self._call(self._sock.send, *args)

    def sendall(self, *args):
        # Since Python 3.5 a timeout bounds the whole of sendall, not each piece.
        return self._call(self._sock.sendall, *args)

    def _count(self, size: int) -> None:
        attempt = _current.get()
        if attempt is not None:
            attempt.count(size)

    # makefile's files count themselves here, so the socket closes when the last one does.
    def _decref_socketios(self):
        self._io_refs -= 1
        if self._closed and self._io_refs <= 0:
            self._sock.close()

    def close(self):
        self._closed = True
        if self._io_refs <= 0:
            self._sock.close()


class KeepsDeadline:
    """Mixed into urllib3's connections: connect by the deadline, then guard the socket."""

    def connect(self):
        attempt = _current.get()
        if attempt is not None:
            remaining = attempt.remaining()
            if remaining <= 0:
                raise ConnectTimeoutError(self, attempt.expire())
            if not isinstance(self.timeout, (int, float)) or self.timeout > remaining:
                self.timeout = remaining
        super().connect()
        self.sock = DeadlineSocket(self.sock)


class DeadlineHTTPConnection(KeepsDeadline, HTTPConnection):
    pass


class DeadlineHTTPSConnection(KeepsDeadline, HTTPSConnection):
    pass


class DeadlineHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = DeadlineHTTPConnection


class DeadlineHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = DeadlineHTTPSConnection


POOL_CLASSES = {"http": DeadlineHTTPConnectionPool, "https": DeadlineHTTPSConnectionPool}


def keeping_deadlines(manager):
    """`manager` (a urllib3 PoolManager or ProxyManager) with connections that keep deadlines."""
    manager.pool_classes_by_scheme = POOL_CLASSES
    return manager


class DeadlineTransport(requests.adapters.HTTPAdapter):
    """requests' transport, with connections that keep the current attempt's deadline."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        keeping_deadlines(self.poolmanager)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        # SOCKS proxies come with connection classes of their own.
        return manager if proxy.lower().startswith("socks") else keeping_deadlines(manager)
