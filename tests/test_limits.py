"""The shape limits, checked before the schema, and field errors cut to a few per field."""

import pytest

from receiver.schemas import TooDeep, ValidationError, bounded, limits, parse_event

from .conftest import payload


def nested(depth: int):
    """Lists inside lists, `depth` of them."""
    node = []
    for _ in range(depth - 1):
        node = [node]
    return node


def close_with(**fields) -> dict:
    return {**payload("e-livechat-session-close"), **fields}


@pytest.mark.parametrize("body", [
    {"crmData": nested(limits.MAX_DEPTH - 1)},
    {"tags": ["t"] * limits.MAX_ITEMS},
    {"a": [[1] * (limits.MAX_ITEMS - 1)] * (limits.MAX_VALUES // limits.MAX_ITEMS - 1)},
])
def test_bodies_within_the_limits_pass(body):
    limits.check(body)


@pytest.mark.parametrize("body, errors", [
    ({"tags": ["t"] * (limits.MAX_ITEMS + 1)},
     {"tags": [f"Must hold at most {limits.MAX_ITEMS} items, not {limits.MAX_ITEMS + 1}."]}),
    ({"messages": [{"attachments": [1] * (limits.MAX_ITEMS + 5)}]},
     {"messages": {0: {"attachments": [
         f"Must hold at most {limits.MAX_ITEMS} items, not {limits.MAX_ITEMS + 5}."]}}}),
    ({"a": [[1] * 10_000] * 26},  # the 25th list of 10,000 passes 250,000 values
     {"a": {24: [f"The body holds more than {limits.MAX_VALUES} values."]}}),
    ({str(n): n for n in range(limits.MAX_VALUES + 1)},
     {"_schema": [f"The body holds more than {limits.MAX_VALUES} values."]}),
])
def test_a_list_or_a_body_past_its_limit_is_a_field_error(body, errors):
    with pytest.raises(ValidationError) as refused:
        limits.check(body)
    assert refused.value.messages == errors


def test_nesting_past_the_limit_is_too_deep():
    with pytest.raises(TooDeep, match=f"deeper than {limits.MAX_DEPTH} levels"):
        limits.check({"crmData": nested(limits.MAX_DEPTH)})


def test_the_limits_are_checked_before_the_schema():
    with pytest.raises(ValidationError) as refused:
        parse_event(close_with(tags=[{}] * (limits.MAX_ITEMS + 1)))
    assert list(refused.value.messages) == ["tags"]


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
