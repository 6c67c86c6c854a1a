"""Slow and stalled clients against real gunicorn: they never hold the worker a real post needs."""

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from . import servers
from .builders import TOKEN, visitor_message
from .locks import StoreLock
from .stored import count

pytestmark = pytest.mark.slow

TRICKLERS = 64
PAUSE_SECONDS = 0.5  # between two pieces a trickling client sends
POSTS = 6
DEADLINE_SECONDS = 2.0  # a real post must be answered within this


def header_pieces():
    """An unauthenticated request whose header lines come one at a time, never ending."""
    yield b"POST /webhooks/rocketchat HTTP/1.1\r\n"
    for n in range(10_000):
        yield f"X-Filler-{n}: {n}\r\n".encode()


def body_pieces():
    """A request with the token whose 1 MB body comes one byte at a time."""
    yield (f"POST /webhooks/rocketchat HTTP/1.1\r\nHost: receiver\r\n"
           f"Content-Type: application/json\r\nX-RocketChat-Livechat-Token: {TOKEN}\r\n"
           f"Content-Length: 1000000\r\n\r\n{{").encode()
    while True:
        yield b" "


class Tricklers:
    """Connections sending a piece every PAUSE_SECONDS, reconnecting when the server drops them."""

    def __init__(self, port: int, count: int):
        self.port = port
        self.makers = [header_pieces if n % 2 else body_pieces for n in range(count)]
        self.stop = threading.Event()
        self.dropped = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def connect(self, maker):
        connection = socket.create_connection(("127.0.0.1", self.port), timeout=1)
        return connection, maker()

    def run(self):
        clients = [self.connect(maker) for maker in self.makers]
        while not self.stop.wait(PAUSE_SECONDS):
            for n, (connection, pieces) in enumerate(clients):
                try:
                    connection.sendall(next(pieces))
                except OSError:  # dropped by the server: come back, as an attacker would
                    connection.close()
                    self.dropped += 1
                    clients[n] = self.connect(self.makers[n])
        for connection, _ in clients:
            connection.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop.set()
        self.thread.join(10)


def timed_post(url: str, body: dict) -> tuple:
    """(status or the error, seconds taken) of one post that gives up after the deadline."""
    started = time.monotonic()
    try:
        status, _ = servers.post(url, json.dumps(body).encode(), TOKEN, timeout=DEADLINE_SECONDS)
    except (urllib.error.URLError, TimeoutError) as error:
        status = type(error).__name__
    return status, round(time.monotonic() - started, 2)


def test_trickling_connections_do_not_delay_real_posts(environment, engine):
    with servers.gunicorn(environment, workers=2) as web:
        with Tricklers(urlsplit(web.url).port, TRICKLERS) as tricklers:
            time.sleep(3 * PAUSE_SECONDS)  # every trickler has connected and started
            answers = []
            for n in range(POSTS):
                answers.append(timed_post(web.url, visitor_message("slow-room", f"m{n}")))
                time.sleep(PAUSE_SECONDS)
    assert [status for status, _ in answers] == [200] * POSTS, answers
    assert count(engine, "events") == POSTS
    assert tricklers.dropped >= TRICKLERS // 2  # headers get 2 s, then the connection closes


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_request_waiting_on_postgresql_lets_its_process_serve_others(environment, engine):
    """psycopg waits on the patched select: a blocked query does not block the whole worker."""
    environment["RECEIVER_STORE_TIMEOUT_SECONDS"] = "3"
    with servers.gunicorn(environment, workers=1) as web, StoreLock(engine):
        waiting = threading.Thread(target=timed_post, args=(web.url, visitor_message("r", "m")))
        waiting.start()
        time.sleep(3 * PAUSE_SECONDS)  # the post now waits for the locked table
        health = web.url.replace("/webhooks/rocketchat", "/healthz")
        with urllib.request.urlopen(health, timeout=DEADLINE_SECONDS / 2) as answer:
            assert answer.status == 200
        waiting.join()
