"""Turns a request body into a stored event, a quarantined body, or a refusal."""

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime

from . import records
from .dedup import dedup_key, event_id
from .jsontext import OutOfRange, load_json
from .schemas import ValidationError, bounded, limits, parse_event, storable_type
from .store import events as event_store
from .store import quarantine

log = logging.getLogger(__name__)


class BadBody(Exception):
    """The body is not a JSON object; nothing is stored."""


@dataclass(frozen=True)
class Accepted:
    """The event is stored (now or by an earlier identical request)."""

    event_id: str
    kind: str
    source_type: str | None
    conversation_id: str | None
    duplicate: bool
    references: dict = field(default_factory=dict)  # CRM record ids known, by adapter


@dataclass(frozen=True)
class Quarantined:
    """The body failed its schema and is held for replay."""

    held_id: int
    source_type: str | None
    errors: dict


@dataclass(frozen=True)
class Examined:
    """A body read and validated: its Event, or the errors that refuse it and its storable type."""

    body: dict | None
    event: records.Event | None = None
    errors: dict | None = None
    source_type: str | None = None


def read_body(raw: bytes) -> dict:
    """The JSON object in `raw`, or BadBody saying what is wrong.

    Its shape is checked on the text first: OverLimits for a list or a body too large.
    """
    if not raw.strip():
        raise BadBody("the body is empty; expected a JSON object")
    unreadable = None
    try:
        limits.check(raw)
    except (limits.TooDeep, limits.NotAnObject) as error:
        raise BadBody(str(error)) from None
    except limits.Unreadable as error:
        unreadable = error  # json names the fault in the words the receiver has always used
    try:
        body = load_json(raw)
    except OutOfRange as error:
        raise BadBody(f"the body is not JSON the receiver takes: {error}") from None
    except (ValueError, RecursionError) as error:
        raise BadBody(f"the body is not valid JSON: {error}") from None
    if unreadable is not None:  # json read what the check could not, a byte-order mark say
        raise BadBody(f"the body is not valid JSON: {unreadable}")
    if not isinstance(body, dict):
        raise BadBody(f"the body is JSON {type(body).__name__}, expected an object")
    return body


def examine(raw: bytes) -> Examined:
    """Read and validate `raw`; BadBody if it is not JSON the receiver takes."""
    try:
        body = read_body(raw)
    except limits.OverLimits as error:
        # Refused before it was parsed: of the body, only a `type` sent first is known.
        return Examined(None, errors=bounded(error.normalized_messages()),
                        source_type=storable_type({"type": error.source_type}))
    event, errors = validate(body)
    if errors is not None:
        return Examined(body, errors=errors, source_type=storable_type(body))
    return Examined(body, event=event)


def validate(body: dict):
    """The body's Event, or the field errors that refuse it (a few per field, and a count)."""
    try:
        return parse_event(body), None
    except ValidationError as error:
        return None, bounded(error.normalized_messages())
    except Exception as error:  # a bug must not lose the body: hold it for replay
        log.exception("unexpected error validating a %r body", body.get("type"))
        return None, {"_receiver": [f"could not be processed: {type(error).__name__}"]}


def prepare(body: dict, raw: bytes, event, now: datetime) -> event_store.NewEvent:
    """Give the event its id and serialize it, before any transaction opens."""
    key = dedup_key(body, event)
    event = replace(event, id=event_id(key), received_at=now)
    return event_store.NewEvent.from_record(event, key, raw)


def _accepted(new: event_store.NewEvent, created: bool, references: dict | None = None):
    """The answer for an event stored now (`created`) or by an earlier identical request."""
    return Accepted(event_id=new.id, kind=new.kind, source_type=new.source_type,
                    conversation_id=new.conversation_id, duplicate=not created,
                    references=references or {})


def accept(engine, raw: bytes, adapters: tuple[str, ...], now: datetime, *,
           write_back: bool = False):
    """Validate and durably store one webhook body; Accepted or Quarantined.

    With `write_back`, an accepted conversation event also carries the CRM record ids
    already known for its conversation, read in the same transaction.
    """
    examined = examine(raw)
    if examined.errors is not None:
        held_id = quarantine.hold(engine, raw, examined.source_type, examined.errors, now)
        return Quarantined(held_id=held_id, source_type=examined.source_type,
                           errors=examined.errors)
    new = prepare(examined.body, raw, examined.event, now)
    stored = event_store.store(engine, new, adapters, with_links=write_back)
    return _accepted(new, stored.created, stored.references)


def replay_held(engine, held_id: int, adapters: tuple[str, ...], now: datetime):
    """Validate a quarantined body again; on success store it and mark it accepted."""
    def judge(raw: bytes):
        examined = examine(raw)
        if examined.errors is not None:
            return examined.errors
        return prepare(examined.body, raw, examined.event, now)

    replayed = quarantine.replay(engine, held_id, judge, adapters, now)
    if replayed.errors is not None:
        return Quarantined(held_id=held_id, source_type=replayed.source_type,
                           errors=replayed.errors)
    return _accepted(replayed.new, replayed.created)
