"""Strict JSON both ways: no NaN or Infinity is read, and none is ever written."""

import math

import pytest

from receiver.jsontext import OutOfRange, canonical_json, dump_json, load_json


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", '{"a": NaN}'])
def test_non_finite_constants_are_not_json(text):
    with pytest.raises(ValueError, match="not valid JSON"):
        load_json(text)


@pytest.mark.parametrize("text", ["1e999", "-1e309", "[1, 2e400]", "1" + "0" * 309])
def test_numbers_past_a_doubles_range_are_out_of_range(text):
    with pytest.raises(OutOfRange, match="out of range"):
        load_json(text)


@pytest.mark.parametrize("text, value", [
    ("1.7976931348623157e308", 1.7976931348623157e308),
    ("1e-400", 0.0),  # underflow is a number, merely rounded
    ("9" * 308, int("9" * 308)),
    ('{"a": [1, 2.5]}', {"a": [1, 2.5]}),
])
def test_numbers_within_range_read_as_sent(text, value):
    assert load_json(text) == value


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, {"a": [math.inf]}])
def test_nothing_non_finite_is_written(value):
    with pytest.raises(ValueError):
        dump_json(value)


@pytest.mark.parametrize("value", [math.nan, {"a": math.inf}])
def test_the_apps_json_answers_refuse_non_finite_numbers(app, value):
    with pytest.raises(ValueError):
        app.json.dumps(value)


def test_one_canonical_text_per_value_whatever_its_order_and_spacing():
    # Dedup keys are digests of this text: a change would let stored events in again.
    assert canonical_json(load_json('{ "b": [1, {"\u00e9": null}],\n "a": "x" }')) == \
        '{"a":"x","b":[1,{"\\u00e9":null}]}'
