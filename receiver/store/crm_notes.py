"""The CRM note written for each conversation or offline message, by its reference line.

Reference lines are kept as digests. Every function runs inside the caller's transaction.
"""

import hashlib
from datetime import datetime

from sqlalchemy import delete, select, tuple_

from .dialect import insert_for, upsert
from .scoped import delete_pairs
from .tables import crm_notes as table
from .tables import events

SENT = None  # a row's note id while the create's answer has not come back
MARKER_PREFIX = "Rocket.Chat reference: "


def conversation_marker(conversation_id: str) -> str:
    """The reference line of a conversation's note, so a redelivery finds and updates it."""
    return f"{MARKER_PREFIX}[conversation {conversation_id}]"


def event_marker(event_id: str) -> str:
    """The reference line of the note written for one event (an offline message)."""
    return f"{MARKER_PREFIX}[event {event_id}]"


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


# Retention: a row is kept while any event its note is about is still in the store. Once
# they are all pruned, nothing left can be delivered or retried into that note; only an
# event arriving after that (an edit of a chat closed before the retention period) writes
# a second note instead of rewriting the first.

def in_use(conn, *, staying=None, received_since: datetime | None = None) -> set[str]:
    """The digests of the reference lines of the stored events' notes: each conversation's,
    and each event's without a conversation (an offline message).

    `staying` narrows the events to those a prune keeps (for a dry run); `received_since`
    to those received since then.
    """
    if received_since is not None:  # a few recent events: by the index on received_at
        recent = conn.execute(select(events.c.conversation_id, events.c.id)
                              .where(events.c.received_at >= received_since))
        return {digest(conversation_marker(conversation_id) if conversation_id
                       else event_marker(event_id)) for conversation_id, event_id in recent}
    where = [] if staying is None else [staying]
    conversations = select(events.c.conversation_id).distinct().where(
        events.c.conversation_id.is_not(None), *where)
    singles = select(events.c.id).where(events.c.conversation_id.is_(None), *where)
    return ({digest(conversation_marker(i)) for i in conn.execute(conversations).scalars()}
            | {digest(event_marker(i)) for i in conn.execute(singles).scalars()})


def stale_page(conn, older_than: datetime, after: tuple | None, limit: int) -> list[tuple]:
    """The keys (scope, marker) of up to `limit` rows not written since `older_than`, in key
    order after `after`."""
    query = select(table.c.scope, table.c.marker).where(table.c.updated_at < older_than)
    if after is not None:
        query = query.where(tuple_(table.c.scope, table.c.marker) > tuple_(*after))
    return [tuple(row) for row in conn.execute(
        query.order_by(table.c.scope, table.c.marker).limit(limit))]


def delete_stale(conn, keys: list[tuple], older_than: datetime) -> int:
    """Delete these rows unless written since `older_than` (a delivery may have just been)."""
    return delete_pairs(conn, table, table.c.marker, keys, table.c.updated_at < older_than)
