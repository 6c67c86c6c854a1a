"""Arbitrary bodies never get a 500, every answer is small, and whatever is accepted is kept."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text as sql

from receiver.jsontext import load_json

from .builders import payload
from .stored import count

ALLOWED = {200, 400, 413, 422}
SMALL_BYTES = 8_192  # the largest possible 422 answer is a few KB: three errors per field
TYPES = st.sampled_from([
    "LivechatSessionStart", "LivechatSessionQueued", "LivechatSessionTaken",
    "LivechatSessionForwarded", "LivechatSession", "LivechatEdit", "LeadCapture", "Message",
    "LivechatOfflineMessage", "SomethingNew",
])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
FIELD_NAMES = st.sampled_from([
    "_id", "label", "topic", "createdAt", "lastMessageAt", "tags", "customFields", "visitor",
    "agent", "crmData", "messages", "departmentId", "servedBy", "closedAt", "closedBy",
    "closer", "sentAt", "message", "oldServedBy", "oldDepartmentId",
])
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def stored_payload(engine, event_id: str) -> str:
    with engine.connect() as conn:
        return conn.execute(sql("SELECT payload FROM events WHERE id = :id"),
                            {"id": event_id}).scalar_one()


def check_nothing_lost(post, engine, body):
    before = count(engine, "events") + count(engine, "quarantine")
    response = post(body)
    assert response.status_code in ALLOWED, response.data
    answer = response.get_json()
    assert answer is not None  # every answer is JSON
    assert len(response.data) < SMALL_BYTES
    after = count(engine, "events") + count(engine, "quarantine")
    if response.status_code == 200 and not answer["duplicate"]:
        assert after == before + 1
    if response.status_code == 200:
        load_json(stored_payload(engine, answer["id"]))  # strict JSON: no Infinity for the CRM
    if response.status_code == 422:
        assert after in (before, before + 1)  # a repeated bad body is counted, not re-added
        assert answer["quarantine_id"]
    if response.status_code == 400:
        assert after == before


@FUZZ
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes(post, engine, data):
    check_nothing_lost(post, engine, data)


@FUZZ
@given(body=JSON)
def test_arbitrary_json(post, engine, body):
    check_nothing_lost(post, engine, json.dumps(body))


@FUZZ
@given(source_type=TYPES, fields=st.dictionaries(FIELD_NAMES, JSON, max_size=8))
def test_known_types_with_arbitrary_fields(post, engine, source_type, fields):
    check_nothing_lost(post, engine, json.dumps({"type": source_type, **fields}))


@FUZZ
@given(name=st.sampled_from(["e-livechat-session-close", "e-message-agent",
                             "e-offline-message", "a-livechat-session-close"]),
       field=FIELD_NAMES, value=JSON)
def test_real_payloads_with_one_field_replaced(post, engine, name, field, value):
    body = payload(name)
    body[field] = value
    check_nothing_lost(post, engine, json.dumps(body))


@FUZZ
@given(text=st.text())
def test_any_unicode_in_a_message(post, engine, text):
    body = payload("e-message-visitor")
    body["messages"][0]["msg"] = text
    body["messages"][0]["_id"] = "fuzz"
    check_nothing_lost(post, engine, json.dumps(body))


# Hostile shapes, written as text: the test's own json.dumps could not nest this deep.
SCALAR_TEXT = JSON.filter(lambda value: not isinstance(value, (list, dict))).map(json.dumps)
NUMBER_TEXT = st.one_of(
    st.integers(min_value=-10 ** 400, max_value=10 ** 400).map(str),
    st.builds("{}e{}".format, st.integers(-10 ** 20, 10 ** 20), st.integers(-2000, 2000)),
    st.builds("{}.{}E{}".format, st.integers(0, 9), st.integers(0, 10 ** 30),
              st.integers(-400, 400)),
)
DEEP_TEXT = st.builds(lambda depth, leaf: "[" * depth + leaf + "]" * depth,
                      st.integers(1, 1_200), SCALAR_TEXT | NUMBER_TEXT)
WIDE_TEXT = st.builds(lambda items, leaf: "[" + ",".join([leaf] * items) + "]",
                      st.integers(0, 12_000), SCALAR_TEXT | NUMBER_TEXT | st.just("{}"))
HOSTILE_TEXT = DEEP_TEXT | WIDE_TEXT | NUMBER_TEXT


def with_field_text(body: dict, field: str, text: str) -> str:
    """`body` as JSON text with `field` set to the raw JSON `text`."""
    body = {**body, field: "__hostile__"}
    return json.dumps(body).replace('"__hostile__"', text, 1)


@FUZZ
@given(name=st.sampled_from(["e-livechat-session-close", "e-message-agent",
                             "e-offline-message", "a-livechat-session-close"]),
       field=FIELD_NAMES, text=HOSTILE_TEXT)
def test_deep_wide_and_huge_values_in_real_payloads(post, engine, name, field, text):
    check_nothing_lost(post, engine, with_field_text(payload(name), field, text))


@FUZZ
@given(name=st.sampled_from(["e-livechat-session-close", "e-message-visitor"]),
       field=st.sampled_from(["attachments", "blocks", "u", "msg", "ts", "file"]),
       text=HOSTILE_TEXT)
def test_deep_wide_and_huge_values_inside_a_message(post, engine, name, field, text):
    body = payload(name)
    message = with_field_text(body["messages"][0], field, text)
    check_nothing_lost(post, engine, with_field_text(body, "messages", f"[{message}]"))
