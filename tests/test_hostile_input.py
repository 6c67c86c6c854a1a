"""Hostile bodies: each answered quickly and briefly, with the status its kind of fault gets."""

import io
import json

import pytest

from receiver import intake
from receiver.store import events as event_store
from receiver.store import quarantine
from receiver.store.transactions import transaction

from .builders import TOKEN, close_with, nested, payload
from .stored import count

SMALL_BYTES = 2_000
LIMIT = 64 * 1024  # RECEIVER_MAX_BODY_BYTES for these tests


@pytest.fixture
def environment(environment):
    environment["RECEIVER_MAX_BODY_BYTES"] = str(LIMIT)
    return environment


@pytest.fixture
def big_bodies(environment):
    environment["RECEIVER_MAX_BODY_BYTES"] = str(10 * 1024 * 1024)
    return environment


@pytest.mark.parametrize("bad", [
    {"tags": [{}] * 750_000},  # 3 MB: its answer and its stored errors were 24 MB each
    {"tags": [{}] * 9_990},  # under the list limit, every item failing
    {"messages": [{"attachments": [1] * 20}] * 7_000},  # nested failures, under every limit
])
def test_a_large_invalid_body_is_quarantined_whole_with_small_errors(big_bodies, post, engine, bad):
    body = close_with(**bad)
    response = post(json.dumps(body))
    assert response.status_code == 422
    assert len(response.data) < SMALL_BYTES
    with transaction(engine) as conn:
        held = quarantine.get_held(conn, response.get_json()["quarantine_id"])
    assert json.loads(held.raw) == body  # nothing lost
    assert len(json.dumps(held.errors)) < SMALL_BYTES


@pytest.mark.parametrize("bad, status", [
    ({"tags": [{}] * 2_600_000}, 422),  # 10.4 MB: it took 30 s and grew a worker past 1.8 GB
    ({"crmData": nested(100)}, 400),
])
def test_a_body_past_a_limit_is_refused_before_it_is_parsed(
        big_bodies, post, engine, monkeypatch, bad, status):
    def parse(raw):
        raise AssertionError("parsed")

    monkeypatch.setattr(intake, "load_json", parse)
    # Rocket.Chat sends `type` first.
    response = post(json.dumps({"type": "LivechatSession", **close_with(**bad)}))
    assert response.status_code == status
    if status == 422:
        with transaction(engine) as conn:
            held = quarantine.get_held(conn, response.get_json()["quarantine_id"])
        assert held.source_type == "LivechatSession"  # sent first, so known without parsing


def test_a_long_key_is_cut_short_in_the_errors(big_bodies, post, engine):
    response = post(close_with(**{"k" * 1_000_000: [1] * 10_001}))
    assert response.status_code == 422
    assert len(response.data) < SMALL_BYTES


def test_a_body_nested_too_deep_is_400_not_503_on_every_retry(post, engine):
    # 500 levels parse, but broke the copy of crmData into the stored record: a 503.
    response = post(close_with(crmData=nested(500)))
    assert response.status_code == 400
    assert "deeper than 64 levels" in response.get_json()["error"]
    assert count(engine, "events") == count(engine, "quarantine") == 0


def test_a_body_nested_up_to_the_limit_is_stored(post, engine):
    response = post(close_with(crmData=nested(63)))  # the body itself is the 64th level
    assert response.status_code == 200
    assert count(engine, "events") == 1


@pytest.mark.parametrize("number", [
    "1e999", "-1e999", "1" * 400, "-" + "9" * 310, "1" * 20_000 + ".5",
])
def test_a_number_past_a_doubles_range_is_400_with_a_short_reason(post, engine, number):
    raw = json.dumps(close_with(crmData="here")).replace('"here"', number)
    response = post(raw)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert "out of range" in error and len(error) < 200
    assert count(engine, "events") == count(engine, "quarantine") == 0


@pytest.mark.parametrize("number", ["1.7976931348623157e308", "-5e-324", str(2 ** 1000)])
def test_numbers_within_a_doubles_range_are_stored_as_sent(post, engine, number):
    raw = json.dumps(close_with(crmData="here")).replace('"here"', number)
    response = post(raw)
    assert response.status_code == 200
    with transaction(engine) as conn:
        stored = event_store.get_event(conn, response.get_json()["id"])
    assert stored.payload["conversation"]["crm_data"] == json.loads(number)


def chunked(client, data: bytes):
    """POST `data` as a server hands a chunked body to the app: no length, the stream ends it."""
    return client.post("/webhooks/rocketchat", input_stream=io.BytesIO(data), headers={
        "X-RocketChat-Livechat-Token": TOKEN, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True})


def padded(size: int) -> bytes:
    """A valid body of exactly `size` bytes, padded with trailing spaces."""
    data = json.dumps(payload("e-message-visitor")).encode()
    return data + b" " * (size - len(data))


def test_a_chunked_body_past_the_limit_is_413_not_cut_and_stored(client, engine):
    # Cut at the limit, this body is still valid JSON: it used to be stored, with a 200.
    response = chunked(client, padded(LIMIT + 1))
    assert response.status_code == 413
    assert "RECEIVER_MAX_BODY_BYTES" in response.get_json()["error"]
    assert count(engine, "events") == 0


def test_a_chunked_body_of_exactly_the_limit_is_taken(client, engine):
    assert chunked(client, padded(LIMIT)).status_code == 200
    assert count(engine, "events") == 1


@pytest.mark.parametrize("size, status", [(LIMIT, 200), (LIMIT + 1, 413)])
def test_a_body_with_a_length_is_taken_up_to_the_limit(post, engine, size, status):
    assert post(padded(size)).status_code == status
