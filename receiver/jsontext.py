"""Compact JSON text that always encodes to UTF-8."""

import json


def dump_json(data) -> str:
    """Compact JSON; non-ASCII kept readable unless it holds lone surrogates."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate cannot be encoded as UTF-8; the escaped form round-trips exactly.
        text = json.dumps(data, separators=(",", ":"))
    return text
