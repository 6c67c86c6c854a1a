"""Bounds on a body's shape, checked on its text before it is parsed: no body costs more than a real one.

The largest real bodies are session events carrying a whole transcript: about a dozen
values per message, a few levels deep. The bounds leave ample room for those, and stop a
list of millions of items or a tower of nested lists before a single object is built:
ijson's C parser streams the text, and the walk stops at the first bound passed.
"""

import ijson
from marshmallow import ValidationError

MAX_DEPTH = 64  # objects and lists nested in one another, the body itself included
MAX_ITEMS = 10_000  # items in any one list: a transcript of 10,000 messages is about 3 MB
MAX_VALUES = 250_000  # values in the whole body, the body itself not counted

_IN_LIST = object()  # where an object's key would be, for a list
_OPENS = {"start_map": None, "start_array": _IN_LIST}
_CLOSES = {"end_map", "end_array"}


class TooDeep(ValueError):
    """The body nests objects or lists deeper than MAX_DEPTH; it is not JSON the receiver takes."""


class NotAnObject(ValueError):
    """The body is a JSON list past a bound: refused as any body that is not an object is."""


class Unreadable(ValueError):
    """The streaming parser could not read the text; the parser that builds it says why."""


class OverLimits(ValidationError):
    """A list or the whole body is past its bound; `source_type` is the `type` if read by then."""

    def __init__(self, messages: dict, source_type: str | None):
        super().__init__(messages)
        self.source_type = source_type


def check(raw: bytes) -> None:
    """Raise TooDeep or OverLimits (NotAnObject for a list) at the first bound `raw` passes.

    Unreadable if the streaming parser cannot read `raw`.
    """
    if _surely_within(raw):
        return
    try:
        _walk(raw)
    except ijson.JSONError as error:
        reason = error.args[0] if error.args else ""
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise Unreadable(str(reason).strip().splitlines()[0] if reason else "") from None


def _surely_within(raw: bytes) -> bool:
    # Every value but the first in a list or object follows a comma, so these counts bound
    # the depth, every list and the whole body from above; brackets and commas inside
    # strings only make the bound looser. Most single events pass here, never streamed.
    brackets = raw.count(b"[") + raw.count(b"{")
    return brackets <= MAX_DEPTH and raw.count(b",") + brackets <= MAX_ITEMS


def _walk(raw: bytes) -> None:
    counts, keys = [], []  # per open object or list: items so far, and the key being read
    values, source_type = 0, None
    for event, value in ijson.basic_parse(raw):
        if event == "map_key":
            keys[-1] = value
            continue
        if event in _CLOSES:
            counts.pop()
            keys.pop()
            continue
        if counts:
            counts[-1] += 1
            values += 1
            if keys[-1] is _IN_LIST and counts[-1] > MAX_ITEMS:
                raise _past(counts, keys, f"Must hold at most {MAX_ITEMS} items.", source_type)
            if values > MAX_VALUES:
                raise _past(counts, keys, f"The body holds more than {MAX_VALUES} values.",
                            source_type)
            if len(counts) == 1 and keys[0] == "type" and event == "string":
                source_type = value  # Rocket.Chat sends it first, so a refusal can name it
        if event in _OPENS:
            counts.append(0)
            keys.append(_OPENS[event])
            if len(counts) > MAX_DEPTH:
                raise TooDeep(f"the body nests objects and lists deeper than {MAX_DEPTH} levels")


def _past(counts: list, keys: list, message: str, source_type: str | None) -> ValueError:
    """The error for the innermost open list or object: `message` where marshmallow would put it."""
    if keys[0] is _IN_LIST:
        return NotAnObject("the body is JSON list, expected an object")
    # The way down to it: each outer object's current key, each outer list's current index.
    path = [count - 1 if key is _IN_LIST else key for count, key in zip(counts[:-1], keys[:-1])]
    errors: dict | list = [message]
    for key in reversed(path or ["_schema"]):
        errors = {key: errors}
    return OverLimits(errors, source_type)
