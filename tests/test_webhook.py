"""Each row of the status policy, and what each leaves in the store."""

import json

import pytest
from freezegun import freeze_time
from sqlalchemy import event

from receiver import intake
from receiver.store import events as event_store
from receiver.store import quarantine
from receiver.store.transactions import transaction

from .builders import payload
from .locks import StoreLock
from .stored import count


def stored_event(engine, event_id):
    with transaction(engine) as conn:
        return event_store.get_event(conn, event_id)


@freeze_time("2025-03-04T10:32:00.123Z")
def test_accepted_event_is_stored_before_the_answer(post, engine):
    response = post(payload("e-livechat-session-close"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["success"] is True and body["duplicate"] is False
    assert len(response.data) < 200  # Rocket.Chat keeps it on the room as crmData
    event = stored_event(engine, body["id"])
    assert event.kind == "chat.closed"
    assert event.conversation_id == "r7XkPq2mZ4nLb8sT3"
    assert event.payload["id"] == body["id"]
    assert event.payload["received_at"] == "2025-03-04T10:32:00.123Z"
    assert json.loads(event.raw) == payload("e-livechat-session-close")
    assert count(engine, "deliveries") == 1  # one per configured adapter


def test_duplicate_is_answered_200_and_stored_once(post, engine):
    first = post(payload("e-livechat-session-close")).get_json()
    second = post(payload("e-livechat-session-close")).get_json()
    assert second == {**first, "duplicate": True}
    assert count(engine, "events") == 1
    assert count(engine, "deliveries") == 1


@pytest.mark.parametrize("body, reason", [
    (b"", "empty"),
    (b"   ", "empty"),
    (b"not json", "not valid JSON"),
    (b'{"type": "Message",', "not valid JSON"),
    (b"[1, 2]", "expected an object"),
    (b'"LivechatSession"', "expected an object"),
    (b"null", "expected an object"),
    (b'{"type": NaN}', "not valid JSON"),
    (b"\xff\xfe\x00garbage", "not valid JSON"),
    (b"[" * 100_000, "deeper than 64 levels"),
])
def test_body_that_is_not_a_json_object_is_400(post, engine, body, reason):
    response = post(body)
    assert response.status_code == 400
    assert reason in response.get_json()["error"]
    assert count(engine, "events") == count(engine, "quarantine") == 0


MIB = 1024 * 1024


@pytest.fixture
def one_mib_limit(environment):
    """RECEIVER_MAX_BODY_BYTES at 1 MiB; list it before `post` so the app is built with it."""
    environment["RECEIVER_MAX_BODY_BYTES"] = str(MIB)
    return MIB


def test_body_over_the_limit_is_413(one_mib_limit, post, engine):
    body = payload("e-message-visitor")
    body["messages"][0]["msg"] = "x" * one_mib_limit
    response = post(body)
    assert response.status_code == 413
    assert "RECEIVER_MAX_BODY_BYTES" in response.get_json()["error"]
    assert count(engine, "events") == 0


def test_large_transcript_under_the_limit_passes(one_mib_limit, post, engine):
    body = payload("e-livechat-session-close")
    body["messages"] = [dict(body["messages"][0], _id=f"m{i}", msg="lorem ipsum " * 20)
                        for i in range(2000)]
    data = json.dumps(body)
    assert 500_000 < len(data) < one_mib_limit
    assert post(data).status_code == 200


def test_invalid_known_type_is_422_and_quarantined(post, engine):
    body = payload("e-message-visitor")
    body["messages"][0]["ts"] = "not a time"
    response = post(body)
    assert response.status_code == 422
    answer = response.get_json()
    assert answer["success"] is False
    assert "messages" in answer["fields"]
    assert count(engine, "events") == 0
    with transaction(engine) as conn:
        held = quarantine.get_held(conn, answer["quarantine_id"])
    assert held.source_type == "Message"
    assert json.loads(held.raw) == body
    assert "messages" in held.errors


def test_missing_type_is_422_and_quarantined(post, engine):
    body = payload("e-message-visitor")
    del body["type"]
    response = post(body)
    assert response.status_code == 422
    assert response.get_json()["fields"] == {"type": ["Missing data for required field."]}
    assert count(engine, "quarantine") == 1


UNSTORABLE = {
    "too long": ("r" * 201, "Must be at most 200 characters."),
    "NUL": ("room\u0000id", "Must not contain a NUL character."),
    "unpaired surrogate": ("room\ud800id", "Must not contain an unpaired surrogate."),
}


@pytest.mark.parametrize("problem", UNSTORABLE)
def test_a_room_id_no_column_can_hold_is_quarantined_not_retried_forever(post, engine, problem):
    """PostgreSQL refuses such text at commit: a 503 would make every retry fail the same way."""
    room_id, message = UNSTORABLE[problem]
    body = payload("e-message-visitor")
    body["_id"] = body["messages"][0]["rid"] = room_id
    response = post(json.dumps(body))
    assert response.status_code == 422
    assert response.get_json()["fields"] == {"_id": [message]}
    with transaction(engine) as conn:
        held = quarantine.get_held(conn, response.get_json()["quarantine_id"])
    assert held.source_type == "Message"
    assert held.raw == json.dumps(body).encode()


@pytest.mark.parametrize("problem", UNSTORABLE)
def test_a_type_no_column_can_hold_is_quarantined_untyped(post, engine, problem):
    source_type, message = UNSTORABLE[problem]
    response = post(json.dumps({"type": source_type, "_id": "r1"}))
    assert response.status_code == 422
    assert response.get_json()["fields"] == {"type": [message]}
    with transaction(engine) as conn:
        held = quarantine.get_held(conn, response.get_json()["quarantine_id"])
    assert held.source_type is None
    assert count(engine, "events") == 0


def test_a_room_id_of_exactly_the_column_width_is_accepted(post, engine):
    body = payload("e-message-visitor")
    body["_id"] = body["messages"][0]["rid"] = "r" * 200
    assert post(body).status_code == 200


def test_same_bad_body_twice_is_held_once_and_counted(post, engine):
    body = {"type": "Message", "_id": "r1"}
    with freeze_time("2025-01-01T00:00:00Z"):
        first = post(body).get_json()
    with freeze_time("2025-01-01T00:00:20Z"):
        second = post(body).get_json()
    assert first["quarantine_id"] == second["quarantine_id"]
    with transaction(engine) as conn:
        held = quarantine.get_held(conn, first["quarantine_id"])
    assert held.times_received == 2
    assert held.received_at.isoformat() == "2025-01-01T00:00:00+00:00"
    assert held.last_received_at.isoformat() == "2025-01-01T00:00:20+00:00"


def test_unknown_type_is_200_kept_and_not_delivered(post, engine):
    body = {"type": "LivechatSomethingNew", "_id": "r1", "anything": [1, 2]}
    response = post(body)
    assert response.status_code == 200
    event = stored_event(engine, response.get_json()["id"])
    assert event.kind == "unknown" and event.source_type == "LivechatSomethingNew"
    assert json.loads(event.raw) == body
    assert count(engine, "deliveries") == 0


def test_send_test_sample_is_200_and_marked_test(post, engine):
    response = post(payload("webhook-test-sample"))
    assert response.status_code == 200
    assert stored_event(engine, response.get_json()["id"]).test is True


@pytest.fixture
def locked_store(engine):
    with StoreLock(engine):
        yield


@pytest.fixture
def short_store_timeout(environment):
    environment["RECEIVER_STORE_TIMEOUT_SECONDS"] = "0.3"
    return environment


def test_store_that_cannot_commit_in_time_is_503_with_retry_after(
        short_store_timeout, post, engine, locked_store):
    response = post(payload("e-message-visitor"))
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert response.get_json()["success"] is False


def test_after_the_lock_is_gone_the_retry_is_stored(short_store_timeout, post, engine):
    with StoreLock(engine):
        assert post(payload("e-message-visitor")).status_code == 503
    assert post(payload("e-message-visitor")).status_code == 200
    assert count(engine, "events") == 1


def test_a_bug_while_storing_is_503_not_500(post, engine, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(event_store, "insert_event", broken)
    response = post(payload("e-message-visitor"))
    assert response.status_code == 503
    assert "Retry-After" in response.headers


def test_a_bug_while_validating_keeps_the_body_in_quarantine(post, engine, monkeypatch):
    def broken(body):
        raise KeyError("surprise")

    monkeypatch.setattr(intake, "parse_event", broken)
    response = post(payload("e-message-visitor"))
    assert response.status_code == 422
    assert count(engine, "quarantine") == 1


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_other_methods_get_json_405(client, method):
    response = getattr(client, method)("/webhooks/rocketchat")
    assert response.status_code == 405
    assert response.get_json()["success"] is False


def test_unknown_path_is_json_404(client):
    response = client.get("/nowhere")
    assert response.status_code == 404 and response.get_json()["success"] is False


def test_content_type_does_not_matter(client, engine):
    response = client.post("/webhooks/rocketchat", data=json.dumps(payload("e-message-agent")),
                           headers={"X-RocketChat-Livechat-Token": "current-token",
                                    "Content-Type": "text/plain"})
    assert response.status_code == 200


def test_lone_surrogates_and_nul_characters_are_kept(post, engine):
    raw = json.dumps(payload("e-message-visitor")).replace(
        "Sure, it is 01310-100", "half an emoji \\ud83d and a nul \\u0000")
    response = post(raw)
    assert response.status_code == 200
    event = stored_event(engine, response.get_json()["id"])
    assert event.payload["messages"][0]["text"] == "half an emoji \ud83d and a nul \x00"
    assert event.raw == raw.encode()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_full_disk_is_503_and_the_retry_once_there_is_room_is_stored(post, engine, caplog):
    # SQLite's own page limit fails a write exactly as a full disk does (SQLITE_FULL).
    def no_room_to_grow(connection, record):
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count = {pages}")

    body = payload("e-message-visitor")
    body["messages"][0]["msg"] = "x" * 100_000  # needs pages the file does not have
    event.listen(engine, "connect", no_room_to_grow)
    engine.dispose()
    try:
        response = post(body)
        assert response.status_code == 503, response.get_json()
        assert "Retry-After" in response.headers
        assert "database or disk is full" in caplog.text  # the operator's log says why
    finally:
        event.remove(engine, "connect", no_room_to_grow)
        engine.dispose()
    assert count(engine, "events") == 0
    assert post(body).status_code == 200
    assert count(engine, "events") == 1
