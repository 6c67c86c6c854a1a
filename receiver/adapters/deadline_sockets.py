"""urllib3 connections, and a requests transport, whose sockets keep the current attempt's deadline."""

import socket

import requests.adapters
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError

from .deadline import current


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
        attempt = current()
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
        attempt = current()
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
        attempt = current()
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
