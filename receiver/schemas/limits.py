"""Bounds on a body's shape, checked before its schema so no body costs more than a large real one.

The largest real bodies are session events carrying a whole transcript: about a dozen
values per message, a few levels deep. The bounds leave ample room for those, and stop a
list of millions of items or a tower of nested lists before any field is validated.
"""

from marshmallow import ValidationError

MAX_DEPTH = 64  # objects and lists nested in one another, the body itself included
MAX_ITEMS = 10_000  # items in any one list: a transcript of 10,000 messages is about 3 MB
MAX_VALUES = 250_000  # values in the whole body, counted in the objects and lists holding them


class TooDeep(ValueError):
    """The body nests objects or lists deeper than MAX_DEPTH; it is not JSON the receiver takes."""


def check(body: dict) -> None:
    """Raise TooDeep, or ValidationError at the first list or part of the body past a bound."""
    values = 0
    # An explicit stack: the walk must not itself recurse as deep as the body nests.
    pending = [(body, 1, ())]
    while pending:
        node, depth, path = pending.pop()
        if depth > MAX_DEPTH:
            raise TooDeep(f"the body nests objects and lists deeper than {MAX_DEPTH} levels")
        if isinstance(node, list) and len(node) > MAX_ITEMS:
            raise ValidationError(_at(path, f"Must hold at most {MAX_ITEMS} items, not {len(node)}."))
        values += len(node)
        if values > MAX_VALUES:
            raise ValidationError(_at(path, f"The body holds more than {MAX_VALUES} values."))
        items = node.items() if isinstance(node, dict) else enumerate(node)
        inside = [(value, depth + 1, (*path, key)) for key, value in items
                  if isinstance(value, (dict, list))]
        pending.extend(reversed(inside))  # so the first error found is the first in the body


def _at(path: tuple, message: str) -> dict:
    """`message` where marshmallow would put it: nested by field name and list position."""
    errors: dict | list = [message]
    for key in reversed(path or ("_schema",)):
        errors = {key: errors}
    return errors
