"""The console's reads: each page's rows, through indexes, in one read-only transaction."""

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, literal_column, select

from ..store import attempts as attempt_store
from ..store import contacts
from ..store.events import StoredEvent, _stored
from ..store.tables import (
    DEAD, DELIVERED, HELD, PENDING, crm_links, deliveries, delivery_attempts, events, quarantine,
)

PAGE = 50
# The newest events the conversation list looks through for the latest conversations.
RECENT_EVENTS = 500


@dataclass(frozen=True)
class AdapterCounts:
    """An adapter's deliveries by state, and how long the oldest pending one has waited."""

    name: str
    delivered: int = 0
    pending: int = 0
    dead: int = 0
    oldest_pending: datetime | None = None


# A literal condition the partial index on finished deliveries is declared with: SQLite
# uses that index only when the query states its condition word for word.
FINISHED = literal_column(f"deliveries.state <> '{PENDING}'")


def _finished(state: str, adapter: str | None = None) -> list:
    conditions = [FINISHED, deliveries.c.state == literal_column(f"'{state}'")]
    if adapter is not None:
        conditions.append(deliveries.c.adapter == adapter)
    return conditions


def dead_by_adapter(conn) -> dict[str, int]:
    """How many dead letters each adapter has, configured or not."""
    rows = conn.execute(select(deliveries.c.adapter, func.count())
                        .where(*_finished(DEAD)).group_by(deliveries.c.adapter))
    return dict(rows.all())


def adapter_counts(conn, names) -> list[AdapterCounts]:
    """Counts for each named adapter, each off an index: one count per adapter and state.

    Delivered rows are counted one adapter at a time, so each count walks one range of the
    partial index on finished deliveries and needs no grouping.
    """
    dead = dead_by_adapter(conn)
    pending = {adapter: (total, oldest) for adapter, total, oldest in conn.execute(
        select(deliveries.c.adapter, func.count(), func.min(deliveries.c.created_at))
        .where(deliveries.c.state == literal_column(f"'{PENDING}'"))
        .group_by(deliveries.c.adapter))}
    found = []
    for name in names:
        delivered = conn.execute(select(func.count()).select_from(deliveries)
                                 .where(*_finished(DELIVERED, name))).scalar_one()
        waiting, oldest = pending.get(name, (0, None))
        found.append(AdapterCounts(name, delivered, waiting, dead.get(name, 0), oldest))
    return found


def held_count(conn) -> int:
    return conn.execute(select(func.count()).select_from(quarantine)
                        .where(quarantine.c.state == HELD)).scalar_one()


def _hour(conn, column):
    """`column` cut to its hour, as text the same on both databases: `YYYY-MM-DD HH`."""
    if conn.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24")
    return func.substr(column, 1, 13)


def events_per_hour(conn, since: datetime) -> dict[str, int]:
    """Events received in each hour since `since`, by `YYYY-MM-DD HH`."""
    hour = _hour(conn, events.c.received_at).label("hour")
    rows = conn.execute(select(hour, func.count()).where(events.c.received_at >= since)
                        .group_by(hour))
    return dict(rows.all())


def attempts_per_hour(conn, since: datetime) -> dict[tuple[str, str], int]:
    """Delivery attempts in each hour since `since`, by (`YYYY-MM-DD HH`, outcome)."""
    hour = _hour(conn, delivery_attempts.c.attempted_at).label("hour")
    rows = conn.execute(
        select(hour, delivery_attempts.c.outcome, func.count())
        .where(delivery_attempts.c.attempted_at >= since)
        .group_by(hour, delivery_attempts.c.outcome))
    return {(hour, outcome): total for hour, outcome, total in rows}


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
                                           "received_at")]
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
                       payload={}, raw=None)


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


# --- dead letters -------------------------------------------------------------------------

@dataclass(frozen=True)
class DeadLetter:
    id: int
    adapter: str
    event_id: str
    kind: str
    conversation_id: str | None
    attempts: int
    last_error: str | None
    finished_at: datetime | None


DEAD_LIMIT = 100


def dead_letters(conn, adapters, limit: int = DEAD_LIMIT) -> list[DeadLetter]:
    """The newest dead letters of the given adapters, newest first.

    One walk of `ix_deliveries_dead` per adapter, newest first, merged here.
    """
    found = []
    for adapter in adapters:
        rows = conn.execute(
            select(deliveries.c.id, deliveries.c.adapter, events.c.id.label("event_id"),
                   events.c.kind, deliveries.c.conversation_id, deliveries.c.attempts,
                   deliveries.c.last_error, deliveries.c.finished_at)
            .join(events, events.c.seq == deliveries.c.event_seq)
            .where(deliveries.c.state == literal_column(f"'{DEAD}'"),
                   deliveries.c.adapter == adapter)
            .order_by(deliveries.c.id.desc()).limit(limit))
        found.extend(DeadLetter(*row) for row in rows)
    return sorted(found, key=lambda row: row.id, reverse=True)[:limit]


def hours(now: datetime, count: int) -> list[datetime]:
    """The starts of the last `count` hours, oldest first, the current hour last."""
    top = now.replace(minute=0, second=0, microsecond=0)
    return [top - timedelta(hours=back) for back in range(count - 1, -1, -1)]


def hour_key(hour: datetime) -> str:
    return hour.strftime("%Y-%m-%d %H")

