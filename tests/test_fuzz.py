"""Arbitrary bodies never get a 500, and whatever is accepted is kept."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import count, payload

ALLOWED = {200, 400, 413, 422}
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


def check_nothing_lost(post, engine, body):
    before = count(engine, "events") + count(engine, "quarantine")
    response = post(body)
    assert response.status_code in ALLOWED, response.data
    answer = response.get_json()
    assert answer is not None  # every answer is JSON
    after = count(engine, "events") + count(engine, "quarantine")
    if response.status_code == 200 and not answer["duplicate"]:
        assert after == before + 1
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
