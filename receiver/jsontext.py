"""JSON text: read and written strictly (no NaN or Infinity, and no number past a double's
range), and in one canonical form for keys and digests."""

import json
import math
import sys

from flask.json.provider import DefaultJSONProvider

# Numbers are shown in errors only this far, so an answer stays small whatever the body.
NUMBER_SHOWN = 24


class OutOfRange(ValueError):
    """A number past a double's range: valid JSON, but read as Infinity by most readers."""


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _out_of_range(text: str):
    shown = text if len(text) <= NUMBER_SHOWN else text[:NUMBER_SHOWN] + "..."
    # A double is what JavaScript and most CRMs read a number into; past its range they
    # read Infinity, which strict JSON writers and readers refuse.
    raise OutOfRange(f"the number {shown} is out of range: numbers must fit a double "
                     "(at most about 1.8e308)")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        _out_of_range(text)
    return value


def _double_sized_int(text: str) -> int:
    value = int(text)
    if abs(value) > sys.float_info.max:
        _out_of_range(text)
    return value


def load_json(text: str | bytes):
    """The JSON value in `text`; ValueError if it is not JSON, OutOfRange for a number too large."""
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float,
                      parse_int=_double_sized_int)


def dump_json(data, default=None) -> str:
    """Compact JSON; non-ASCII kept readable unless it holds lone surrogates.

    `default` turns a value JSON has no form for into one it has, as for `json.dumps`.
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                      default=default)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate cannot be encoded as UTF-8; the escaped form round-trips exactly.
        text = json.dumps(data, separators=(",", ":"), allow_nan=False, default=default)
    return text


def canonical_json(value) -> str:
    """One text per JSON value, whatever key order or spacing it came with: keys sorted, no
    spaces, non-ASCII escaped. Dedup keys are digests of it, so it must never change."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON answers, refusing NaN and Infinity like everything else the receiver writes."""

    def dumps(self, obj, **kwargs) -> str:
        kwargs.setdefault("allow_nan", False)
        return super().dumps(obj, **kwargs)
