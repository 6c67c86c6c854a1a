"""The shape limits, checked on the text before it is parsed; field errors cut to a few per field."""

import json

import pytest

from receiver.schemas import ValidationError, bounded, limits, parse_event

from .builders import close_with, nested


def check(body) -> None:
    limits.check(json.dumps(body).encode())


ITEMS = "Must hold at most 10000 items."
VALUES = "The body holds more than 250000 values."


@pytest.mark.parametrize("body", [
    close_with(),
    {"crmData": nested(limits.MAX_DEPTH - 1)},
    {"tags": ["t"] * limits.MAX_ITEMS},
    {"a": [[1] * (limits.MAX_ITEMS - 1)] * (limits.MAX_VALUES // limits.MAX_ITEMS - 1)},
    {"text": "[{" * 10_000 + "," * 50_000},  # brackets and commas inside a string
])
def test_bodies_within_the_limits_pass(body):
    check(body)


@pytest.mark.parametrize("body, errors, source_type", [
    ({"type": "LivechatSession", "tags": ["t"] * (limits.MAX_ITEMS + 1)},
     {"tags": [ITEMS]}, "LivechatSession"),
    ({"messages": [{"attachments": [1] * (limits.MAX_ITEMS + 5)}], "type": "Message"},
     {"messages": {0: {"attachments": [ITEMS]}}}, None),  # `type` after the refusal
    ({"a": [[1] * 10_000] * 26},  # the 25th list of 10,000 passes 250,000 values
     {"a": {24: [VALUES]}}, None),
    ({str(n): n for n in range(limits.MAX_VALUES + 1)}, {"_schema": [VALUES]}, None),
])
def test_a_list_or_a_body_past_its_limit_is_a_field_error(body, errors, source_type):
    with pytest.raises(limits.OverLimits) as refused:
        check(body)
    assert refused.value.messages == errors
    assert refused.value.source_type == source_type


@pytest.mark.parametrize("text", [
    json.dumps({"crmData": nested(limits.MAX_DEPTH)}).encode(),
    b"[" * 100_000,  # never closed: the walk stops long before the end
])
def test_nesting_past_the_limit_is_too_deep(text):
    with pytest.raises(limits.TooDeep, match=f"deeper than {limits.MAX_DEPTH} levels"):
        limits.check(text)


def test_a_list_past_a_limit_is_not_an_object():
    with pytest.raises(limits.NotAnObject, match="expected an object"):
        check([{}] * (limits.MAX_ITEMS + 1))


@pytest.mark.parametrize("text", [
    b'{"a": "' + b"," * 20_000 + b'"',  # never closed
    b'{"a": NaN' + b", 1" * 20_000,
])
def test_text_the_stream_cannot_read_is_unreadable(text):
    with pytest.raises(limits.Unreadable):
        limits.check(text)


@pytest.mark.parametrize("messages, kept", [
    ({"tags": {0: ["Not a valid string."]}}, {"tags": {"0": ["Not a valid string."]}}),
    ({"tags": {n: ["Not a valid string."] for n in range(10)}},
     {"tags": {"0": ["Not a valid string."], "1": ["Not a valid string."],
               "2": ["Not a valid string."], "_more": 7}}),
    ({"_id": ["a", "b", "c", "d", "e"]}, {"_id": ["a", "b", "c", "and 2 more."]}),
    ({"messages": {n: {"ts": ["Missing."]} for n in range(5)}, "_id": ["Missing."]},
     {"messages": {"0": {"ts": ["Missing."]}, "1": {"ts": ["Missing."]},
                   "2": {"ts": ["Missing."]}, "_more": 2}, "_id": ["Missing."]}),
    ({f"field{n}": ["Missing."] for n in range(60)},
     {**{f"field{n}": ["Missing."] for n in range(50)}, "_more": 10}),
    ({"k" * 5_000: ["m" * 5_000]}, {"k" * 100 + "...": ["m" * 100 + "..."]}),
])
def test_errors_keep_the_first_few_per_field_and_count_the_rest(messages, kept):
    assert bounded(messages) == kept


def test_a_list_stops_reading_after_its_first_few_failing_items():
    with pytest.raises(ValidationError) as refused:
        parse_event(close_with(tags=["fine", {}, {}, "fine", {}, {}, {}]))
    assert refused.value.messages["tags"] == {
        1: ["Not a valid string."], 2: ["Not a valid string."], 4: ["Not a valid string."],
        "_unchecked": 2,
    }
