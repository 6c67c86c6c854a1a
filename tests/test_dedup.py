"""Idempotency without sender ids: resends are stored once, distinct events never merged."""

import json
import threading

from receiver.dedup import dedup_key
from receiver.schemas import parse_event

from .builders import payload
from .stored import count


def key(body):
    return dedup_key(body, parse_event(body))


def test_resend_with_other_key_order_and_spacing_is_the_same_event(post, engine):
    body = payload("e-livechat-session-close")
    first = post(json.dumps(body)).get_json()
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=4)
    second = post(reordered).get_json()
    assert second["id"] == first["id"] and second["duplicate"] is True
    assert count(engine, "events") == 1


def test_edited_message_is_a_new_event(post, engine):
    original = post(payload("e-message-visitor")).get_json()
    edited = post(payload("e-message-visitor-edited")).get_json()
    assert edited["id"] != original["id"] and edited["duplicate"] is False
    assert count(engine, "events") == 2


def test_second_edit_of_the_same_message_is_new_again():
    first = payload("e-message-visitor-edited")
    second = payload("e-message-visitor-edited")
    second["messages"][0]["editedAt"] = "2025-03-04T10:25:00.000Z"
    assert key(first) != key(second)


def test_same_message_resent_while_the_room_moved_on_is_one_event():
    # The room's lastMessageAt changed between the two sends; the message did not.
    first = payload("e-message-visitor")
    second = payload("e-message-visitor")
    second["lastMessageAt"] = "2025-03-04T10:20:00.000Z"
    assert key(first) == key(second)


def test_same_message_id_in_another_room_is_distinct():
    other = payload("e-message-visitor")
    other["_id"] = "anotherRoom"
    assert key(other) != key(payload("e-message-visitor"))


def test_closing_message_and_close_event_are_distinct():
    closing = payload("e-message-agent")
    closing["messages"][0] = payload("e-livechat-session-close")["messages"][-1]
    assert key(closing) != key(payload("e-livechat-session-close"))


def test_events_of_one_room_with_the_same_history_are_distinct():
    keys = {key(payload(name)) for name in (
        "e-livechat-session-queued", "e-livechat-session-taken",
        "e-livechat-session-forwarded-agent", "e-livechat-session-forwarded-department")}
    assert len(keys) == 4


def test_messages_without_ids_fall_back_to_the_whole_body():
    first = payload("e-message-visitor")
    del first["messages"][0]["_id"]
    second = json.loads(json.dumps(first))
    second["messages"][0]["msg"] = "different words"
    assert key(first) != key(second)
    assert key(first) == key(json.loads(json.dumps(first)))


def test_offline_messages_differ_by_content():
    first = payload("e-offline-message")
    second = payload("e-offline-message")
    second["message"] = "Actually, email me."
    assert key(first) != key(second)


def test_concurrent_identical_posts_store_one_event(app, engine):
    body = json.dumps(payload("e-livechat-session-close"))
    barrier = threading.Barrier(8)
    answers = []

    def send():
        client = app.test_client()
        barrier.wait()
        response = client.post("/webhooks/rocketchat", data=body,
                               headers={"X-RocketChat-Livechat-Token": "current-token"})
        answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in answers] == [200] * 8
    assert len({answer["id"] for _, answer in answers}) == 1
    assert sorted(answer["duplicate"] for _, answer in answers) == [False] + [True] * 7
    assert count(engine, "events") == 1
    assert count(engine, "deliveries") == 1


def test_many_racing_inserts_of_many_events_all_answer_200(app, engine):
    # Several rounds of eight simultaneous posts per body: each post must get a 200, never a
    # 503 from whichever unique index the race happens to trip first.
    bodies = []
    for n in range(10):
        body = payload("e-message-visitor")
        body["messages"][0]["_id"] = f"race{n}"
        bodies.append(json.dumps(body))
    statuses = []

    def send(body, barrier):
        client = app.test_client()
        barrier.wait()
        statuses.append(client.post("/webhooks/rocketchat", data=body, headers={
            "X-RocketChat-Livechat-Token": "current-token"}).status_code)

    for body in bodies:
        barrier = threading.Barrier(8)
        threads = [threading.Thread(target=send, args=(body, barrier)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses == [200] * 80
    assert count(engine, "events") == 10


def test_each_resend_is_counted_on_the_stored_event(post, engine):
    from receiver.store.events import get_event
    from receiver.store.transactions import reading

    event_id = post(payload("e-livechat-session-close")).get_json()["id"]
    for _ in range(2):
        assert post(payload("e-livechat-session-close")).get_json()["duplicate"] is True
    post(payload("e-offline-message"))  # another event, not a resend
    with reading(engine) as conn:
        assert get_event(conn, event_id).resends == 2
    assert count(engine, "events") == 2
