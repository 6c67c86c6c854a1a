"""Keeps bodies that failed validation, byte for byte, until they are replayed or discarded."""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from .dialect import insert_for
from ..jsontext import dump_json
from .tables import ACCEPTED, DISCARDED, HELD, quarantine


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


def hold(conn, raw: bytes, source_type: str | None, errors: dict, now: datetime) -> int:
    """Quarantine `raw`; the same body sent again bumps its count. Returns the row id."""
    digest = hashlib.sha256(raw).hexdigest()
    statement = insert_for(conn, quarantine).values(
        digest=digest, source_type=source_type, errors=dump_json(errors), raw=raw,
        state=HELD, times_received=1, received_at=now, last_received_at=now,
    )
    statement = statement.on_conflict_do_update(
        index_elements=["digest"],
        set_={"times_received": quarantine.c.times_received + 1, "last_received_at": now},
    ).returning(quarantine.c.id)
    return conn.execute(statement).scalar_one()


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
