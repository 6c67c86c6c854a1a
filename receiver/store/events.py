"""Stores accepted events with their deliveries, and reads them back."""

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from .. import records
from ..jsontext import dump_json
from .dialect import insert_for
from .tables import PENDING, deliveries, events


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
    statement = insert_for(conn, events).values(
        id=event.id, dedup_key=dedup_key, kind=event.kind, source_type=event.source_type,
        conversation_id=conversation_id, test=event.test, occurred_at=event.occurred_at,
        received_at=event.received_at, payload=dump_json(records.to_dict(event)), raw=raw,
    # No conflict target: `id` is derived from `dedup_key`, and a racing duplicate may trip
    # either unique index first; both mean "already stored".
    ).on_conflict_do_nothing().returning(events.c.seq)
    seq = conn.execute(statement).scalar()
    if seq is None:
        return False
    if adapters and event.kind != "unknown":
        conn.execute(deliveries.insert(), [
            {"event_seq": seq, "adapter": name, "conversation_id": conversation_id,
             "state": PENDING, "attempts": 0, "due_at": event.received_at,
             "retries_since": event.received_at, "created_at": event.received_at}
            for name in adapters
        ])
    return True


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
