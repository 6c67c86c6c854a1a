"""Every example body, and the variations real senders produce, map to the right normalized event."""

import copy
import json

import pytest

from receiver.records import KINDS, to_dict
from receiver.schemas import ValidationError, parse_event

from .builders import payload, payload_names

EVENT_KEYS = {
    "id", "kind", "source_type", "test", "occurred_at", "received_at", "conversation",
    "contact", "agent", "previous_agent", "messages", "offline_message",
}
CONVERSATION_KEYS = {
    "id", "label", "topic", "department_id", "previous_department_id", "tags", "custom_fields",
    "created_at", "last_message_at", "closed_at", "closed_by", "closer", "crm_data",
}
CONTACT_KEYS = {
    "id", "token", "name", "username", "emails", "phones", "department", "ip", "browser", "os",
    "custom_fields",
}
MESSAGE_KEYS = {"id", "role", "author", "text", "sent_at", "edited_at", "closing", "attachments"}

MARIA = {
    "id": "vA1b2C3d4E5f6G7h8", "token": "c9f1e0d2-4b7a-4e1f-9a3c-1d2e3f4a5b6c",
    "name": "Maria Silva", "username": "guest-1042",
}
JOHN = {"id": "uJ8k9L0m1N2o3P4q5", "username": "john.doe", "name": "John Doe"}


def normalized(body) -> dict:
    return to_dict(parse_event(body))


def test_current_close_maps_field_by_field():
    assert normalized(payload("e-livechat-session-close")) == {
        "id": None,
        "kind": "chat.closed",
        "source_type": "LivechatSession",
        "test": False,
        "occurred_at": "2025-03-04T10:31:48.880Z",
        "received_at": None,
        "conversation": {
            "id": "r7XkPq2mZ4nLb8sT3", "label": "Maria Silva", "topic": "Late delivery",
            "department_id": "dQ1w2E3r4T5y6U7i8", "previous_department_id": None,
            "tags": ["delivery", "refund"], "custom_fields": {"orderId": "1234"},
            "created_at": "2025-03-04T10:15:02.114Z",
            "last_message_at": "2025-03-04T10:31:48.902Z",
            "closed_at": "2025-03-04T10:31:48.880Z",
            "closed_by": {"id": "uJ8k9L0m1N2o3P4q5", "username": "john.doe", "name": None},
            "closer": "agent", "crm_data": '{"success":true}',
        },
        "contact": {
            **MARIA, "emails": ["maria@example.com"], "phones": ["+5511999990000"],
            "department": "dQ1w2E3r4T5y6U7i8", "ip": "203.0.113.7",
            "browser": "Chrome 122.0.0.0", "os": "Windows 10",
            "custom_fields": {"cpf": "123.456.789-00"},
        },
        "agent": {**JOHN, "email": "john.doe@example.com", "custom_fields": {}},
        "previous_agent": None,
        "messages": [
            {"id": "mK2s9dL0pQ3wE5rT", "role": "visitor",
             "author": {k: MARIA[k] for k in ("id", "username", "name")},
             "text": "Hi, my order #1234 has not arrived", "sent_at": "2025-03-04T10:15:03.020Z",
             "edited_at": None, "closing": False, "attachments": []},
            {"id": "mP8o7I6u5Y4t3R2e", "role": "agent", "author": JOHN,
             "text": "Refund issued, sorry!", "sent_at": "2025-03-04T10:30:12.300Z",
             "edited_at": None, "closing": False, "attachments": []},
            {"id": "mC1l2O3s4E5d6X7z", "role": "agent", "author": JOHN,
             "text": "Resolved - refund", "sent_at": "2025-03-04T10:31:48.902Z",
             "edited_at": None, "closing": True, "attachments": []},
        ],
        "offline_message": None,
    }


@pytest.mark.parametrize("name", payload_names())
def test_every_key_is_present(name):
    event = normalized(payload(name))
    assert set(event) == EVENT_KEYS
    assert event["kind"] in KINDS
    if event["conversation"] is not None:
        assert set(event["conversation"]) == CONVERSATION_KEYS
    assert set(event["contact"]) == CONTACT_KEYS
    for message in event["messages"]:
        assert set(message) == MESSAGE_KEYS
    # Serializable as is: what adapters receive is plain JSON.
    json.dumps(event)


EXPECTED = {
    # name: (kind, occurred_at, conversation id)
    "a-livechat-session-close": ("chat.closed", "2018-06-01T18:49:02.101Z", "Ab12Cd34Ef56Gh78"),
    "b-livechat-session-close": ("chat.closed", "2025-03-04T10:31:48.880Z", "r7XkPq2mZ4nLb8sT3"),
    "b-livechat-session-start": ("chat.started", "2025-03-04T10:15:02.114Z", "r7XkPq2mZ4nLb8sT3"),
    "b-message-visitor": ("message.visitor", "2025-03-04T10:18:41.007Z", "r7XkPq2mZ4nLb8sT3"),
    "e-lead-capture": ("lead.captured", "2025-03-04T10:15:03.020Z", "r7XkPq2mZ4nLb8sT3"),
    "e-livechat-edit": ("chat.updated", "2025-03-04T10:31:48.902Z", "r7XkPq2mZ4nLb8sT3"),
    "e-livechat-session-close": ("chat.closed", "2025-03-04T10:31:48.880Z", "r7XkPq2mZ4nLb8sT3"),
    "e-livechat-session-forwarded-agent":
        ("chat.forwarded", "2025-03-04T10:21:05.513Z", "r7XkPq2mZ4nLb8sT3"),
    "e-livechat-session-forwarded-department":
        ("chat.forwarded", "2025-03-04T10:20:41.002Z", "r7XkPq2mZ4nLb8sT3"),
    "e-livechat-session-queued": ("chat.queued", "2025-03-04T10:15:03.020Z", "r7XkPq2mZ4nLb8sT3"),
    "e-livechat-session-start": ("chat.started", "2025-03-04T10:15:02.114Z", "r7XkPq2mZ4nLb8sT3"),
    "e-livechat-session-taken": ("chat.taken", "2025-03-04T10:16:10.400Z", "r7XkPq2mZ4nLb8sT3"),
    "e-message-agent": ("message.agent", "2025-03-04T10:18:00.515Z", "r7XkPq2mZ4nLb8sT3"),
    "e-message-visitor-edited": ("message.visitor", "2025-03-04T10:19:02.300Z", "r7XkPq2mZ4nLb8sT3"),
    "e-message-visitor-file": ("message.visitor", "2025-03-04T10:19:30.100Z", "r7XkPq2mZ4nLb8sT3"),
    "e-message-visitor": ("message.visitor", "2025-03-04T10:18:41.007Z", "r7XkPq2mZ4nLb8sT3"),
    "e-offline-message": ("offline.message", "2025-03-04T22:03:11.204Z", None),
    "webhook-test-sample": ("chat.closed", "2025-03-04T12:00:00.000Z", "fasd6f5a4sd6f8a4sdf"),
}


def test_expectations_cover_every_example():
    assert set(EXPECTED) == set(payload_names())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_kind_time_and_conversation(name):
    event = normalized(payload(name))
    kind, occurred_at, conversation_id = EXPECTED[name]
    assert event["kind"] == kind
    assert event["occurred_at"] == occurred_at
    assert (event["conversation"] or {}).get("id") == conversation_id
    assert event["source_type"] == payload(name)["type"]
    assert event["test"] is (name == "webhook-test-sample")


def test_era_a_close_takes_first_agent_email_and_copes_without_ids():
    event = normalized(payload("a-livechat-session-close"))
    assert event["agent"] == {"id": "Qp01Rs23Tu45Vw67", "username": "kate", "name": "Kate Brown",
                              "email": "kate@example.com", "custom_fields": {}}
    assert event["contact"]["emails"] == ["james@example.org"]
    assert event["contact"]["phones"] == []
    assert event["contact"]["token"] is None
    visitor, agent = event["messages"]
    assert visitor["id"] is None and visitor["role"] == "visitor"
    assert visitor["author"] == {"id": None, "username": "guest-77", "name": None}
    assert agent["role"] == "agent"
    assert agent["author"] == {"id": "Qp01Rs23Tu45Vw67", "username": "kate", "name": None}


def test_era_b_nulls_become_empty():
    event = normalized(payload("b-livechat-session-close"))
    assert event["contact"]["emails"] == [] and event["contact"]["phones"] == []
    assert event["agent"]["email"] is None
    assert event["conversation"]["topic"] is None
    assert [m["attachments"] for m in event["messages"]] == [[], [], []]
    assert [m["closing"] for m in event["messages"]] == [False, False, True]


def test_era_b_start_has_no_department():
    event = normalized(payload("b-livechat-session-start"))
    assert event["conversation"]["department_id"] is None
    assert event["agent"] is None and event["messages"] == []


def test_send_test_sample_is_a_test_close_with_plain_string_contact_details():
    event = normalized(payload("webhook-test-sample"))
    assert event["test"] is True
    assert event["contact"]["id"] is None  # the sample sends an empty visitor id
    assert event["contact"]["emails"] == ["email@address.com"]
    assert event["contact"]["phones"] == ["192873192873"]
    assert [m["role"] for m in event["messages"]] == ["visitor", "agent"]


def test_taken_and_forwarded_agents():
    taken = normalized(payload("e-livechat-session-taken"))
    assert taken["agent"]["username"] == "john.doe" and taken["previous_agent"] is None
    forwarded = normalized(payload("e-livechat-session-forwarded-agent"))
    assert forwarded["agent"]["username"] == "ana.souza"
    assert forwarded["previous_agent"] == {"id": "uJ8k9L0m1N2o3P4q5", "username": "john.doe",
                                           "name": None, "email": None, "custom_fields": {}}
    department = normalized(payload("e-livechat-session-forwarded-department"))
    assert department["conversation"]["department_id"] == "dS4a5l6e7s8D9e0p1"
    assert department["conversation"]["previous_department_id"] == "dQ1w2E3r4T5y6U7i8"
    assert department["agent"] is None and department["previous_agent"] is None


def test_taken_without_agent_object_falls_back_to_served_by():
    body = payload("e-livechat-session-taken")
    del body["agent"]
    event = normalized(body)
    assert event["agent"] == {"id": "uJ8k9L0m1N2o3P4q5", "username": "john.doe", "name": None,
                              "email": None, "custom_fields": {}}


def test_messages_by_role_and_edit():
    agent = normalized(payload("e-message-agent"))
    assert agent["kind"] == "message.agent"
    assert agent["messages"][0]["author"] == JOHN
    edited = normalized(payload("e-message-visitor-edited"))
    assert edited["messages"][0]["edited_at"] == "2025-03-04T10:19:02.300Z"
    assert edited["messages"][0]["text"] == "Sure, it is 01310-200"


def test_file_message_links_the_absolute_upload():
    message = normalized(payload("e-message-visitor-file"))["messages"][0]
    assert message["text"] is None
    assert message["attachments"] == [{
        "title": "receipt.pdf",
        "url": "https://chat.example.com/file-upload/fAbC123/receipt.pdf?token=eyJhbGciOi",
        "type": "application/pdf", "size": 48211,
    }]


def test_attachment_without_upload_uses_its_own_link():
    body = payload("e-message-visitor-file")
    del body["messages"][0]["fileUpload"]
    body["messages"][0]["attachments"] = [
        {"title": "photo", "image_url": "/file-upload/x/photo.png", "image_type": "image/png"}]
    message = normalized(body)["messages"][0]
    assert message["attachments"] == [
        {"title": "photo", "url": "/file-upload/x/photo.png", "type": "image/png", "size": None}]


def test_blocks_only_message_takes_its_text_from_the_blocks():
    body = payload("e-message-agent")
    message = body["messages"][0]
    del message["msg"]
    message["blocks"] = [{"type": "section", "text": {"type": "mrkdwn", "text": "Pick one"}},
                         {"type": "actions", "elements": [{"text": {"text": "Yes"}}]}]
    assert normalized(body)["messages"][0]["text"] == "Pick one\nYes"


def test_offline_message():
    event = normalized(payload("e-offline-message"))
    assert event["conversation"] is None and event["agent"] is None
    assert event["contact"]["name"] == "Carlos Lima"
    assert event["contact"]["emails"] == ["carlos@example.com"]
    assert event["offline_message"] == {
        "name": "Carlos Lima", "email": "carlos@example.com",
        "text": "Please call me back tomorrow.", "sent_at": "2025-03-04T22:03:11.204Z"}


@pytest.mark.parametrize("email, expected", [
    ([{"address": "a@x.io"}, {"address": "b@x.io"}], ["a@x.io", "b@x.io"]),
    ("a@x.io", ["a@x.io"]),
    (["a@x.io", {"address": "a@x.io"}], ["a@x.io"]),
    ({"address": "a@x.io"}, ["a@x.io"]),
    (None, []),
    ([], []),
    ("", []),
    ([{"address": None}], []),
])
def test_visitor_email_shapes(email, expected):
    body = payload("e-livechat-session-start")
    body["visitor"]["email"] = email
    assert normalized(body)["contact"]["emails"] == expected


@pytest.mark.parametrize("phone, expected", [
    ([{"phoneNumber": "+1 555"}], ["+1 555"]),
    ("+1 555", ["+1 555"]),
    (None, []),
])
def test_visitor_phone_shapes(phone, expected):
    body = payload("e-livechat-session-start")
    body["visitor"]["phone"] = phone
    assert normalized(body)["contact"]["phones"] == expected


@pytest.mark.parametrize("email, expected", [
    ("j@x.io", "j@x.io"),
    ([{"address": "j@x.io", "verified": True}, {"address": "k@x.io"}], "j@x.io"),
    (None, None),
])
def test_agent_email_shapes(email, expected):
    body = payload("e-livechat-session-close")
    body["agent"]["email"] = email
    assert normalized(body)["agent"]["email"] == expected


def test_crm_data_may_be_an_object():
    body = payload("e-livechat-session-close")
    body["crmData"] = {"contact": "123"}
    assert normalized(body)["conversation"]["crm_data"] == {"contact": "123"}


def test_closed_by_visitor():
    body = payload("e-livechat-session-close")
    body["closer"] = "visitor"
    body["closedBy"] = {"_id": "vA1b2C3d4E5f6G7h8", "username": "guest-1042"}
    conversation = normalized(body)["conversation"]
    assert conversation["closer"] == "visitor"
    assert conversation["closed_by"]["username"] == "guest-1042"


def test_undocumented_keys_are_ignored():
    body = payload("e-livechat-session-close")
    body["somethingNew"] = {"nested": [1, 2]}
    body["visitor"]["livechatData"] = {"x": 1}
    body["messages"][0]["reactions"] = {":+1:": {"usernames": ["john.doe"]}}
    assert normalized(body) == normalized(payload("e-livechat-session-close"))


def test_missing_optional_keys_are_null():
    body = {"type": "LivechatSessionStart", "_id": "room1", "visitor": {}}
    event = normalized(body)
    assert event["conversation"]["label"] is None
    assert event["conversation"]["tags"] == [] and event["conversation"]["custom_fields"] == {}
    assert event["occurred_at"] is None
    assert event["contact"] == {key: None for key in CONTACT_KEYS} | {
        "emails": [], "phones": [], "custom_fields": {}}


def test_unicode_and_emoji_pass_through():
    body = payload("e-message-visitor")
    body["messages"][0]["msg"] = "Olá, ação! 🚚📦 — 你好"
    body["visitor"]["name"] = "Zoë 🦊"
    event = normalized(body)
    assert event["messages"][0]["text"] == "Olá, ação! 🚚📦 — 你好"
    assert event["contact"]["name"] == "Zoë 🦊"


def test_long_transcript():
    body = payload("e-livechat-session-close")
    template = body["messages"][0]
    body["messages"] = [dict(copy.deepcopy(template), _id=f"m{i}", msg=f"line {i}")
                        for i in range(2000)]
    event = normalized(body)
    assert len(event["messages"]) == 2000
    assert event["messages"][-1]["text"] == "line 1999"


def test_times_without_offset_are_utc_and_offsets_are_converted():
    body = payload("e-livechat-session-close")
    body["closedAt"] = "2025-03-04T10:31:48"
    body["createdAt"] = "2025-03-04T12:15:02.114+02:00"
    event = normalized(body)
    assert event["occurred_at"] == "2025-03-04T10:31:48.000Z"
    assert event["conversation"]["created_at"] == "2025-03-04T10:15:02.114Z"


@pytest.mark.parametrize("change, field", [
    (lambda b: b.update(_id=123), "_id"),
    (lambda b: b.update(_id="  "), "_id"),
    (lambda b: b.pop("_id"), "_id"),
    (lambda b: b.pop("visitor"), "visitor"),
    (lambda b: b.update(visitor="Maria"), "visitor"),
    (lambda b: b.update(messages={"0": {}}), "messages"),
    (lambda b: b["messages"][0].update(ts="yesterday"), "messages"),
    (lambda b: b["messages"][0].pop("ts"), "messages"),
    (lambda b: b["messages"][0].update(msg=["not", "text"]), "messages"),
    (lambda b: b.update(closedAt=1741084308880), "closedAt"),
    (lambda b: b.update(tags="delivery"), "tags"),
    (lambda b: b["visitor"].update(email=[42]), "visitor"),
    (lambda b: b["agent"].update(email={"address": 5}), "agent"),
    (lambda b: b.update(closedAt="9999-12-31T23:59:59-01:00"), "closedAt"),
])
def test_wrong_types_that_would_corrupt_a_record_are_refused(change, field):
    body = payload("e-livechat-session-close")
    change(body)
    with pytest.raises(ValidationError) as error:
        parse_event(body)
    assert field in error.value.normalized_messages()


def test_message_event_needs_its_message():
    body = payload("e-message-visitor")
    body["messages"] = []
    with pytest.raises(ValidationError) as error:
        parse_event(body)
    assert "messages" in error.value.normalized_messages()


def test_offline_message_needs_text_field():
    body = payload("e-offline-message")
    del body["message"]
    with pytest.raises(ValidationError) as error:
        parse_event(body)
    assert error.value.normalized_messages() == {"message": ["Missing data for required field."]}


def test_unknown_type_is_kept_as_unknown():
    event = normalized({"type": "LivechatSomethingNew", "_id": "r1"})
    assert event["kind"] == "unknown" in KINDS and event["source_type"] == "LivechatSomethingNew"


@pytest.mark.parametrize("body", [{}, {"type": None}, {"type": 7}, {"type": ""}])
def test_type_must_be_a_non_empty_string(body):
    with pytest.raises(ValidationError) as error:
        parse_event(body)
    assert "type" in error.value.normalized_messages()
