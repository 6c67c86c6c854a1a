"""Stores accepted events with their deliveries, and reads them back."""

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, bindparam, func, insert, literal, select, true
from sqlalchemy.dialects.postgresql import ARRAY

from .. import records
from ..jsontext import dump_json
from .dialect import insert_for
from .tables import PENDING, deliveries, events
from .types import UTCDateTime


@dataclass(frozen=True)
class StoredEvent:
    """An event row: the normalized payload plus bookkeeping."""

    seq: int
    id: str
    kind: str
    source_type: str | None
    conversation_id: str | None
    test: bool
    occurred_at: datetime | None
    received_at: datetime
    payload: dict
    raw: bytes | None


def insert_event(conn, event: records.Event, dedup_key: str, raw: bytes,
                 adapters: tuple[str, ...]) -> bool:
    """Store the event and one pending delivery per adapter; False if its key was already taken."""
    conversation_id = event.conversation.id if event.conversation else None
    # No conflict target: `id` is derived from `dedup_key`, and a racing duplicate may trip
    # either unique index first; both mean "already stored".
    insert_event_row = insert_for(conn, events).values(
        id=event.id, dedup_key=dedup_key, kind=event.kind, source_type=event.source_type,
        conversation_id=conversation_id, test=event.test, occurred_at=event.occurred_at,
        received_at=event.received_at, payload=dump_json(records.to_dict(event)), raw=raw,
    ).on_conflict_do_nothing().returning(events.c.seq)
    targets = adapters if event.kind != "unknown" else ()
    if not targets:
        return conn.execute(insert_event_row).scalar() is not None
    if conn.dialect.name == "postgresql":
        return _insert_in_one_statement(conn, insert_event_row, event, conversation_id, targets)
    seq = conn.execute(insert_event_row).scalar()
    if seq is None:
        return False
    conn.execute(deliveries.insert(), [
        _delivery(seq, name, conversation_id, event.received_at) for name in targets])
    return True


def _delivery(seq, adapter, conversation_id, now) -> dict:
    return {"event_seq": seq, "adapter": adapter, "conversation_id": conversation_id,
            "state": PENDING, "attempts": 0, "due_at": now, "retries_since": now,
            "created_at": now}


def _insert_in_one_statement(conn, insert_event_row, event, conversation_id, targets) -> bool:
    """PostgreSQL: the event and its deliveries in one statement, so one round trip stores both."""
    new_event = insert_event_row.cte("new_event")
    names = func.unnest(bindparam("adapters", list(targets), type_=ARRAY(String))) \
        .table_valued("adapter").render_derived(name="adapters")
    now = event.received_at
    rows = select(
        new_event.c.seq, names.c.adapter, literal(conversation_id, String), literal(PENDING),
        literal(0), literal(now, UTCDateTime), literal(now, UTCDateTime), literal(now, UTCDateTime),
    ).select_from(new_event.join(names, true()))
    statement = insert(deliveries).from_select(
        ["event_seq", "adapter", "conversation_id", "state", "attempts", "due_at",
         "retries_since", "created_at"], rows,
    ).returning(deliveries.c.id)
    return conn.execute(statement).first() is not None


def _stored(row) -> StoredEvent:
    return StoredEvent(
        seq=row.seq, id=row.id, kind=row.kind, source_type=row.source_type,
        conversation_id=row.conversation_id, test=row.test, occurred_at=row.occurred_at,
        received_at=row.received_at, payload=json.loads(row.payload), raw=row.raw,
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
