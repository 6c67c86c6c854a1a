"""Validates a webhook body against the schema for its `type` and builds the normalized Event."""

from marshmallow import ValidationError

from .. import records
from .errors import bounded
from .events import SCHEMAS, TEST_ROOM_ID
from .fields import Storable

__all__ = ["SCHEMAS", "TEST_ROOM_ID", "ValidationError", "bounded", "parse_event", "storable_type"]

# Schemas hold no per-load state, so one instance per type serves every request.
_LOADERS = {name: schema() for name, schema in SCHEMAS.items()}
_STORABLE = Storable()


def parse_event(body: dict) -> records.Event:
    """Return the Event for `body`, or raise ValidationError with messages per field."""
    source_type = body.get("type")
    if source_type is None:
        raise ValidationError({"type": ["Missing data for required field."]})
    if not isinstance(source_type, str) or not source_type.strip():
        raise ValidationError({"type": ["Must be a non-empty string."]})
    try:
        _STORABLE(source_type)
    except ValidationError as error:
        raise ValidationError({"type": error.messages}) from None
    loader = _LOADERS.get(source_type)
    if loader is None:
        return unknown_event(source_type)
    return loader.load(body)


def unknown_event(source_type: str) -> records.Event:
    """A type this version does not know: kept, but never sent to a CRM."""
    return records.Event(
        id=None, kind="unknown", source_type=source_type, test=False, occurred_at=None,
        received_at=None, conversation=None, contact=None, agent=None, previous_agent=None,
        messages=[], offline_message=None,
    )


def storable_type(body: dict) -> str | None:
    """The body's `type`, if it is text a column can hold; kept with quarantined bodies."""
    source_type = body.get("type")
    if not isinstance(source_type, str):
        return None
    try:
        return _STORABLE(source_type)
    except ValidationError:
        return None
