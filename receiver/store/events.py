"""Stores accepted events with their deliveries, and reads them back."""

import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from sqlalchemy import String, bindparam, func, insert, literal, select, true, update
from sqlalchemy.dialects.postgresql import ARRAY

from .. import records
from ..jsontext import dump_json
from . import group_commit, links
from .dialect import insert_in
from .prepared import Prepared
from .tables import PENDING, deliveries, events
from .types import UTCDateTime


@dataclass(frozen=True)
class EventFields:
    """What an event row says of its event, stored or about to be."""

    id: str
    kind: str
    source_type: str | None
    conversation_id: str | None
    test: bool
    occurred_at: datetime | None
    received_at: datetime
    raw: bytes | None  # None once redacted


@dataclass(frozen=True, kw_only=True)
class StoredEvent(EventFields):
    """An event row: the normalized payload plus bookkeeping."""

    seq: int
    payload: dict
    resends: int = 0  # how many more times Rocket.Chat sent it


EVENT_COLUMNS = ("id", "dedup_key", "kind", "source_type", "conversation_id", "test",
                 "occurred_at", "received_at", "payload", "raw")
DELIVERY_COLUMNS = ("event_seq", "adapter", "conversation_id", "state", "attempts", "due_at",
                    "retries_since", "created_at")


def _insert_event_statement(dialect_name: str):
    # No conflict target: `id` is derived from `dedup_key`, and a racing duplicate may trip
    # either unique index first; both mean "already stored".
    values = {name: bindparam(f"e_{name}", type_=events.c[name].type) for name in EVENT_COLUMNS}
    return insert_in(dialect_name, events).values(values).on_conflict_do_nothing() \
        .returning(events.c.seq)


def _insert_event_with_deliveries_statement():
    """PostgreSQL: the event and its deliveries in one statement, so one round trip stores both."""
    new_event = _insert_event_statement("postgresql").cte("new_event")
    names = func.unnest(bindparam("adapters", type_=ARRAY(String))) \
        .table_valued("adapter").render_derived(name="adapters")
    now = bindparam("e_received_at", type_=UTCDateTime)
    rows = select(
        new_event.c.seq, names.c.adapter, bindparam("e_conversation_id", type_=String),
        literal(PENDING), literal(0), now, now, now,
    ).select_from(new_event.join(names, true()))
    return insert(deliveries).from_select(DELIVERY_COLUMNS, rows).returning(deliveries.c.id)


def _count_resend_statement():
    return update(events).where(events.c.id == bindparam("e_id")) \
        .values(resends=events.c.resends + 1)


def _insert_deliveries_statement():
    return deliveries.insert().values({name: bindparam(name) for name in DELIVERY_COLUMNS})


_STATEMENTS = {
    "event": _insert_event_statement,
    "event_with_deliveries": lambda dialect_name: _insert_event_with_deliveries_statement(),
    "deliveries": lambda dialect_name: _insert_deliveries_statement(),
    "resend": lambda dialect_name: _count_resend_statement(),
}


def _prepared(name: str, dialect) -> Prepared:
    """One of the statements above, compiled for `dialect`'s database kind once per process."""
    return Prepared.once(f"events.{name}", _STATEMENTS[name], dialect)


@dataclass(frozen=True, kw_only=True)
class NewEvent(EventFields):
    """An event row ready to insert, serialized before any transaction opens."""

    dedup_key: str
    payload: str

    @classmethod
    def from_record(cls, event: records.Event, dedup_key: str, raw: bytes) -> "NewEvent":
        return cls(
            id=event.id, dedup_key=dedup_key, kind=event.kind, source_type=event.source_type,
            conversation_id=event.conversation.id if event.conversation else None,
            test=event.test, occurred_at=event.occurred_at, received_at=event.received_at,
            payload=dump_json(event, records.json_form), raw=raw,
        )


@dataclass(frozen=True)
class Stored:
    """What storing an event did: whether it is new, and the conversation's known record ids."""

    created: bool
    references: dict = field(default_factory=dict)  # by adapter, when asked for


def store(engine, new: NewEvent, adapters: tuple[str, ...], *,
          with_links: bool = False) -> Stored:
    """Store the event with one pending delivery per adapter, unless its key is already taken.

    With `with_links`, the CRM record ids already known for its conversation are read in the
    same transaction. One statement on PostgreSQL (the read after it commits); on the
    driver's own connection, as this runs for every accepted webhook; the answer waits
    for the commit that holds it, which events arriving together share.
    """
    # Events that arrive together share one commit (group_commit.py).
    return group_commit.shared(engine).submit(
        partial(_store, engine.dialect, new, adapters, with_links))


def _store(dialect, new: NewEvent, adapters: tuple[str, ...], with_links: bool,
           cursor) -> Stored:
    created = insert_event(cursor, dialect, new, adapters)
    if not (with_links and new.conversation_id):
        return Stored(created)
    return Stored(created, links.known(cursor, dialect, new.conversation_id))


def insert_event(cursor, dialect, new: NewEvent, adapters: tuple[str, ...]) -> bool:
    """Store the event and one pending delivery per adapter; False if its key was already taken.

    A duplicate is counted on the stored event instead. Runs on a DBAPI `cursor` of a
    `dialect` database, inside the caller's transaction.
    """
    row = {f"e_{name}": getattr(new, name) for name in EVENT_COLUMNS}
    targets = adapters if new.kind != "unknown" else ()
    if targets and dialect.name == "postgresql":
        statement = _prepared("event_with_deliveries", dialect)
        created = statement.run(cursor, {**row, "adapters": list(targets)}).fetchone() is not None
        return created or _count_resend(cursor, dialect, new)
    stored = _prepared("event", dialect).run(cursor, row).fetchone()
    if stored is None:
        return _count_resend(cursor, dialect, new)
    if not targets:
        return True
    now = new.received_at
    _prepared("deliveries", dialect).run_many(cursor, [
        {"event_seq": stored[0], "adapter": name, "conversation_id": new.conversation_id,
         "state": PENDING, "attempts": 0, "due_at": now, "retries_since": now, "created_at": now}
        for name in targets
    ])
    return True


def _count_resend(cursor, dialect, new: NewEvent) -> bool:
    """Count one more send of an event already stored; False, as the insert found it taken."""
    # Only duplicates pay for this write, and they are Rocket.Chat's retries: rare.
    _prepared("resend", dialect).run(cursor, {"e_id": new.id})
    return False


def _stored(row) -> StoredEvent:
    return StoredEvent(
        seq=row.seq, id=row.id, kind=row.kind, source_type=row.source_type,
        conversation_id=row.conversation_id, test=row.test, occurred_at=row.occurred_at,
        received_at=row.received_at, payload=json.loads(row.payload), raw=row.raw,
        resends=row.resends,
    )


def get_event(conn, event_id: str) -> StoredEvent | None:
    """The event with this id, or None."""
    row = conn.execute(select(events).where(events.c.id == event_id)).first()
    return _stored(row) if row else None


def list_events(conn, *, kind: str | None = None, conversation_id: str | None = None,
                limit: int = 50) -> list[StoredEvent]:
    """The newest events first, optionally filtered by kind or conversation."""
    query = select(events).order_by(events.c.seq.desc()).limit(limit)
    if kind:
        query = query.where(events.c.kind == kind)
    if conversation_id:
        query = query.where(events.c.conversation_id == conversation_id)
    return [_stored(row) for row in conn.execute(query)]
