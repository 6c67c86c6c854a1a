"""Bodies past RECEIVER_MAX_BODY_BYTES get 413 from real servers, with a length or chunked."""

import contextlib
import http.client
import json
import threading
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from . import servers
from .builders import TOKEN, payload
from .stored import count

LIMIT = 64 * 1024


@pytest.fixture
def environment(environment):
    environment["RECEIVER_MAX_BODY_BYTES"] = str(LIMIT)
    return environment


def padded(size: int) -> bytes:
    """A valid body of exactly `size` bytes, padded with trailing spaces."""
    data = json.dumps(payload("e-message-visitor")).encode()
    return data + b" " * (size - len(data))


def post_chunked(url: str, data: bytes) -> int:
    """POST `data` in 4 KiB chunks (Transfer-Encoding: chunked, no Content-Length); the status."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        chunks = (data[start:start + 4096] for start in range(0, len(data), 4096))
        connection.request("POST", parts.path, body=chunks, encode_chunked=True,
                           headers={"X-RocketChat-Livechat-Token": TOKEN})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@contextlib.contextmanager
def development_server(app):
    """Werkzeug's development server (what `flask run` serves), on a free local port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/webhooks/rocketchat"
    finally:
        server.shutdown()
        thread.join(10)


def check_the_limit(url: str, engine) -> None:
    # Cut at the limit, the longer body is still valid JSON: it used to be stored with a 200.
    assert post_chunked(url, padded(LIMIT + 1)) == 413
    assert servers.post(url, padded(LIMIT + 1), TOKEN)[0] == 413
    assert count(engine, "events") == 0
    assert post_chunked(url, padded(LIMIT)) == 200
    assert servers.post(url, padded(LIMIT), TOKEN)[0] == 200  # the same body: a duplicate
    assert count(engine, "events") == 1


@pytest.mark.slow
def test_gunicorn_answers_413_past_the_limit_however_the_body_is_framed(environment, engine):
    with servers.gunicorn(environment, workers=1) as web:
        check_the_limit(web.url, engine)


def test_the_development_server_answers_413_past_the_limit_however_framed(app, engine):
    with development_server(app) as url:
        check_the_limit(url, engine)
