"""Keeps bodies that failed validation, byte for byte, until they are replayed or discarded."""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy import select, update

from . import events
from .dialect import insert_for
from ..jsontext import dump_json
from .tables import ACCEPTED, DISCARDED, HELD, quarantine
from .transactions import driver_cursor, transaction


@dataclass(frozen=True)
class HeldBody:
    """A quarantined body with why it was refused."""

    id: int
    source_type: str | None
    errors: dict
    raw: bytes
    state: str
    times_received: int
    received_at: datetime
    last_received_at: datetime
    resolved_at: datetime | None
    event_id: str | None


@dataclass(frozen=True)
class Replayed:
    """A held body validated again: the event it became (and whether that was new), or the
    errors that still refuse it."""

    source_type: str | None
    new: events.NewEvent | None = None
    created: bool = False
    errors: dict | None = None


def hold(engine, raw: bytes, source_type: str | None, errors: dict, now: datetime) -> int:
    """Quarantine `raw`; the same body sent again bumps its count. Returns the row id."""
    digest = hashlib.sha256(raw).hexdigest()
    with transaction(engine, postgresql_autocommit=True) as conn:  # one statement
        statement = insert_for(conn, quarantine).values(
            digest=digest, source_type=source_type, errors=dump_json(errors), raw=raw,
            state=HELD, times_received=1, received_at=now, last_received_at=now,
        )
        statement = statement.on_conflict_do_update(
            index_elements=["digest"],
            set_={"times_received": quarantine.c.times_received + 1, "last_received_at": now},
        ).returning(quarantine.c.id)
        return conn.execute(statement).scalar_one()


def replay(engine, held_id: int, judge: Callable[[bytes], "events.NewEvent | dict"],
           adapters: tuple[str, ...], now: datetime) -> Replayed:
    """Judge a held body again, in one transaction: store the event it becomes and mark the
    body accepted, or keep the errors that still refuse it; LookupError if there is none.

    `judge(raw)` answers the prepared event, or the field errors that refuse it.
    """
    with transaction(engine) as conn:
        held = get_held(conn, held_id)
        if held is None:
            raise LookupError(f"no quarantined body with id {held_id}")
        judged = judge(held.raw)
        if not isinstance(judged, events.NewEvent):
            record_errors(conn, held_id, judged)
            return Replayed(held.source_type, errors=judged)
        with driver_cursor(conn) as cursor:
            created = events.insert_event(cursor, conn.dialect, judged, adapters)
        resolve(conn, held_id, now, event_id=judged.id)
        return Replayed(held.source_type, new=judged, created=created)


def _held(row) -> HeldBody:
    return HeldBody(
        id=row.id, source_type=row.source_type, errors=json.loads(row.errors), raw=row.raw,
        state=row.state, times_received=row.times_received, received_at=row.received_at,
        last_received_at=row.last_received_at, resolved_at=row.resolved_at,
        event_id=row.event_id,
    )


def get_held(conn, held_id: int) -> HeldBody | None:
    """The quarantined body with this id, or None."""
    row = conn.execute(select(quarantine).where(quarantine.c.id == held_id)).first()
    return _held(row) if row else None


def list_held(conn, *, state: str | None = HELD, limit: int = 50) -> list[HeldBody]:
    """Quarantined bodies, newest first; `state=None` lists every state."""
    query = select(quarantine).order_by(quarantine.c.id.desc()).limit(limit)
    if state:
        query = query.where(quarantine.c.state == state)
    return [_held(row) for row in conn.execute(query)]


def resolve(conn, held_id: int, now: datetime, *, event_id: str | None = None) -> None:
    """Mark a held body accepted (with the event it became) or, without one, discarded."""
    conn.execute(update(quarantine).where(quarantine.c.id == held_id).values(
        state=ACCEPTED if event_id else DISCARDED, resolved_at=now, event_id=event_id,
    ))


def record_errors(conn, held_id: int, errors: dict) -> None:
    """Replace the stored validation errors after a replay that still fails."""
    conn.execute(update(quarantine).where(quarantine.c.id == held_id).values(
        errors=dump_json(errors)))
