"""The CRM note written for each conversation or offline message, by its reference line.

Reference lines are kept as digests. Every function runs inside the caller's transaction.
"""

import hashlib
from datetime import datetime

from sqlalchemy import delete, select

from .dialect import insert_for, upsert
from .tables import crm_notes as table

SENT = None  # a row's note id while the create's answer has not come back


def digest(marker: str) -> str:
    """The reference line as stored: a SHA-256 hex digest."""
    return hashlib.sha256(marker.encode()).hexdigest()


def known(conn, scope: str, markers: list[str]) -> dict[str, str | None]:
    """The note id of each marker that has a row, by marker (SENT: a create went out)."""
    by_digest = {digest(marker): marker for marker in markers}
    query = select(table.c.marker, table.c.note_id).where(
        table.c.scope == scope, table.c.marker.in_(list(by_digest)))
    return {by_digest[row.marker]: row.note_id for row in conn.execute(query)}


def sending(conn, scope: str, markers: list[str], now: datetime) -> None:
    """Note that creates for these markers are about to go out, unless a row says more."""
    for marker in sorted(markers):
        conn.execute(insert_for(conn, table).values(
            scope=scope, marker=digest(marker), note_id=SENT, updated_at=now)
            .on_conflict_do_nothing(index_elements=["scope", "marker"]))


def remember(conn, scope: str, note_ids: dict[str, str], now: datetime) -> None:
    """Keep each marker's note id."""
    for marker, note_id in sorted(note_ids.items()):
        conn.execute(upsert(conn, table, {"scope": scope, "marker": digest(marker)},
                            {"note_id": note_id, "updated_at": now}))


def forget(conn, scope: str, marker: str) -> None:
    """Forget a note the CRM no longer has (deleted since)."""
    conn.execute(delete(table).where(table.c.scope == scope, table.c.marker == digest(marker)))
