"""Field errors cut to the first few per field, plus a count, so no answer or stored row grows with the body."""

FIRST_ERRORS = 3  # failing list positions kept per list, and messages kept per field
MAX_NAMES = 50  # named entries kept per object: more fields than any schema has
MORE = "_more"  # beside the kept entries: how many more failed at that level
TEXT_SHOWN = 100  # characters kept of a key or message, which may come from the body


def bounded(messages):
    """marshmallow's `messages` with at most FIRST_ERRORS list positions and messages per field."""
    if isinstance(messages, list):
        kept = [_shown(message) for message in messages[:FIRST_ERRORS]]
        if len(messages) > FIRST_ERRORS:
            kept.append(f"and {len(messages) - FIRST_ERRORS} more.")
        return kept
    if not isinstance(messages, dict):
        return _shown(messages)
    kept, left_out = {}, 0
    positions = names = 0
    for key, value in messages.items():
        # List positions are ints; field names and object keys are text.
        if isinstance(key, int):
            positions += 1
            keep = positions <= FIRST_ERRORS
        else:
            names += 1
            keep = names <= MAX_NAMES
        if keep:
            # JSON keys are text: an int beside MORE would break a sorted dump.
            kept[_shown(str(key))] = bounded(value)
        else:
            left_out += 1
    if left_out:
        kept[MORE] = left_out
    return kept


def _shown(text):
    """`text` cut to TEXT_SHOWN characters; anything else as it is."""
    if isinstance(text, str) and len(text) > TEXT_SHOWN:
        return text[:TEXT_SHOWN] + "..."
    return text
