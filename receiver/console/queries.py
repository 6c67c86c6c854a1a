"""The console's reads of events and conversations: keyset pages, searches, timelines."""

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from ..store import attempts as attempt_store
from ..store import contacts
from ..store.events import StoredEvent, _stored
from ..store.tables import crm_links, deliveries, events

PAGE = 50
# The newest events the conversation list looks through for the latest conversations.
RECENT_EVENTS = 500


# --- events -------------------------------------------------------------------------------

@dataclass(frozen=True)
class EventPage:
    """One page of events, newest first, with the keys of the pages either side."""

    events: list[StoredEvent]
    older: int | None  # pass as `before` for the next older page
    newer: int | None  # pass as `after` for the next newer page


def event_page(conn, *, kind: str | None = None, before: int | None = None,
               after: int | None = None, size: int = PAGE) -> EventPage:
    """A keyset page: events before `before` (or after `after`), newest first."""
    columns = [events.c[name] for name in ("seq", "id", "kind", "source_type",
                                           "conversation_id", "test", "occurred_at",
                                           "received_at", "resends")]
    query = select(*columns)
    if kind:
        query = query.where(events.c.kind == kind)
    if after is not None:
        query = query.where(events.c.seq > after).order_by(events.c.seq.asc())
    else:
        if before is not None:
            query = query.where(events.c.seq < before)
        query = query.order_by(events.c.seq.desc())
    rows = conn.execute(query.limit(size + 1)).all()
    more = len(rows) > size
    rows = rows[:size]
    if after is not None:
        rows.reverse()
    found = [_light(row) for row in rows]
    older = found[-1].seq if found and (more or after is not None) else None
    newer = found[0].seq if found and (before is not None or (after is not None and more)) \
        else None
    return EventPage(found, older, newer)


def _light(row) -> StoredEvent:
    """An event row without its payload and body, for listings."""
    return StoredEvent(seq=row.seq, id=row.id, kind=row.kind, source_type=row.source_type,
                       conversation_id=row.conversation_id, test=row.test,
                       occurred_at=row.occurred_at, received_at=row.received_at,
                       payload={}, raw=None, resends=row.resends)


@dataclass(frozen=True)
class DeliveryView:
    """A delivery of one event to one adapter, with every attempt."""

    id: int
    event_seq: int
    adapter: str
    state: str
    attempts: int
    due_at: datetime
    last_error: str | None
    finished_at: datetime | None
    history: list = field(default_factory=list)


def event_deliveries(conn, seqs, *, with_history: bool = False) -> dict[int, list[DeliveryView]]:
    """Each event's deliveries, by event seq, in adapter order."""
    found: dict[int, list[DeliveryView]] = {seq: [] for seq in seqs}
    if not found:
        return found
    rows = conn.execute(select(deliveries).where(deliveries.c.event_seq.in_(list(found)))
                        .order_by(deliveries.c.event_seq, deliveries.c.adapter)).all()
    history = attempt_store.of_deliveries(conn, [row.id for row in rows]) if with_history else {}
    for row in rows:
        found[row.event_seq].append(DeliveryView(
            row.id, row.event_seq, row.adapter, row.state, row.attempts, row.due_at,
            row.last_error, row.finished_at, history.get(row.id, [])))
    return found


# --- conversations --------------------------------------------------------------------------

@dataclass(frozen=True)
class ConversationSummary:
    """A conversation as the list shows it: its latest event's view of the room."""

    id: str
    visitor: str | None
    department: str | None
    last_kind: str
    last_received_at: datetime


def _matching_rooms(conn, text: str, limit: int) -> list[str]:
    """Room ids whose id, or whose contact's name, first email, first phone or token, is `text`."""
    rooms = [text] if conn.execute(select(events.c.seq).where(
        events.c.conversation_id == text).limit(1)).first() else []
    for name in contacts.FIELDS:
        value = contacts.search_value(name, text)
        rows = conn.execute(
            select(events.c.conversation_id)
            .where(contacts.column(conn.dialect.name, name) == value, contacts.indexed(),
                   events.c.conversation_id.is_not(None))
            .order_by(events.c.seq.desc()).limit(limit))
        rooms.extend(row.conversation_id for row in rows)
    return list(dict.fromkeys(rooms))[:limit]


def _recent_rooms(conn, limit: int) -> list[str]:
    rows = conn.execute(select(events.c.conversation_id)
                        .where(events.c.conversation_id.is_not(None))
                        .order_by(events.c.seq.desc()).limit(RECENT_EVENTS))
    return list(dict.fromkeys(row.conversation_id for row in rows))[:limit]


def latest_event(conn, room_id: str) -> StoredEvent | None:
    row = conn.execute(select(events).where(events.c.conversation_id == room_id)
                       .order_by(events.c.seq.desc()).limit(1)).first()
    return _stored(row) if row else None


def conversations(conn, text: str | None, limit: int = PAGE) -> list[ConversationSummary]:
    """Conversations matching `text`, or without it the latest ones, newest activity first."""
    rooms = _matching_rooms(conn, text, limit) if text else _recent_rooms(conn, limit)
    found = []
    for room_id in rooms:
        event = latest_event(conn, room_id)
        if event is None:
            continue
        contact = event.payload.get("contact") or {}
        conversation = event.payload.get("conversation") or {}
        found.append(ConversationSummary(
            room_id, contact.get("name") or contact.get("username"),
            (contact.get("department") or conversation.get("department_id")),
            event.kind, event.received_at))
    return sorted(found, key=lambda summary: summary.last_received_at, reverse=True)


# The most events a conversation page shows; a room with more shows its first ones.
TIMELINE_LIMIT = 1000


def timeline(conn, room_id: str) -> list[StoredEvent]:
    """The room's events in arrival order."""
    rows = conn.execute(select(events).where(events.c.conversation_id == room_id)
                        .order_by(events.c.seq).limit(TIMELINE_LIMIT))
    return [_stored(row) for row in rows]


def crm_references(conn, room_id: str) -> dict[str, dict]:
    """Each adapter's record ids for the room (see store/links.py)."""
    rows = conn.execute(select(crm_links.c.adapter, crm_links.c.refs)
                        .where(crm_links.c.conversation_id == room_id))
    return {adapter: json.loads(refs) for adapter, refs in rows}
