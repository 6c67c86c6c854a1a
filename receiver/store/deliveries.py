"""Delivery rows: claimed under a lease, retried or replayed (`outcomes.py` finishes them)."""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import Integer, and_, bindparam, func, literal_column, or_, select, update

from .dialect import insert_for
from .tables import DEAD, PENDING, deliveries, events
from .transactions import transaction
from .types import UTCDateTime


@dataclass(frozen=True)
class Claim:
    """A delivery a worker holds under a lease, with the event to deliver."""

    id: int
    adapter: str
    attempts: int
    retries_since: datetime
    due_at: datetime
    event_id: str
    event: dict
    last_error: str | None = None  # the previous attempt's


@dataclass(frozen=True)
class DeliveryRow:
    """A delivery as the CLI shows it."""

    id: int
    event_id: str
    kind: str
    adapter: str
    conversation_id: str | None
    state: str
    attempts: int
    due_at: datetime
    last_error: str | None
    last_attempt_at: datetime | None
    finished_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None


def _due_heads():
    """A query for the ids of the next `batch` due deliveries that head their conversation.

    Candidates are walked in due order off `ix_deliveries_claim`, each checked with one
    index probe, so a claim costs the same however long the backlog is. Only a
    conversation's head qualifies, so a batch never holds two deliveries of one
    conversation for one adapter.
    """
    candidate = deliveries.alias("candidate")
    earlier = deliveries.alias("earlier")
    now = bindparam("now", type_=UTCDateTime)
    # A literal state, not a bound one, lets both databases match the partial indexes.
    pending = literal_column(f"'{PENDING}'")
    # The conversation's first pending event, read as the first entry of
    # `ix_deliveries_order` (adapter, conversation, event_seq): asked as min(event_seq),
    # PostgreSQL without statistics of the backlog (a new database, a burst) probed
    # `ix_deliveries_pending_age` by adapter alone, reading every pending row for every
    # candidate. In event_seq order, only the order index answers without a sort, which the
    # worker's engine rules out (make_worker_engine).
    head = (
        select(earlier.c.event_seq)
        .where(earlier.c.adapter == candidate.c.adapter,
               earlier.c.conversation_id == candidate.c.conversation_id,
               earlier.c.state == pending)
        .order_by(earlier.c.event_seq)
        .limit(1)
        .scalar_subquery()
    )
    # The adapter as an expression, not a column, so no index on it is a way in; otherwise
    # SQLite picks `ix_deliveries_order` and sorts the whole backlog for each claim.
    # (PostgreSQL is kept from sorting by the worker's engine: see make_worker_engine.)
    adapter = literal_column("candidate.adapter || ''")
    return (
        select(candidate.c.id)
        .where(
            candidate.c.state == pending,
            candidate.c.due_at <= now,
            adapter.in_(bindparam("adapters", expanding=True)),
            or_(candidate.c.lease_expires_at.is_(None), candidate.c.lease_expires_at < now),
            # Offline messages belong to no conversation and wait for nothing.
            or_(candidate.c.conversation_id.is_(None), candidate.c.event_seq == head),
        )
        .order_by(candidate.c.due_at, candidate.c.id)
        .limit(bindparam("batch", type_=Integer))
        # PostgreSQL: concurrent workers pass over rows another worker is claiming.
        # SQLite has no row locks and needs none: it runs one writer at a time.
        .with_for_update(skip_locked=True)
    )


CLAIMED = (deliveries.c.id, deliveries.c.adapter, deliveries.c.attempts,
           deliveries.c.retries_since, deliveries.c.due_at, deliveries.c.last_error)


@lru_cache
def _claim_statement(dialect_name: str):
    """Built once: claims run all the time, and building one costs more than running it."""
    claim = (
        update(deliveries)
        .where(deliveries.c.id.in_(_due_heads()))
        .values(lease_owner=bindparam("worker"),
                lease_expires_at=bindparam("lease_expires_at", type_=UTCDateTime),
                attempts=deliveries.c.attempts + 1)
    )
    if dialect_name == "postgresql":
        return claim.where(events.c.seq == deliveries.c.event_seq).returning(
            *CLAIMED, events.c.id.label("event_id"), events.c.payload)
    # SQLite's RETURNING sees only the updated table; the events are read separately.
    return claim.returning(*CLAIMED, deliveries.c.event_seq)


def claim_due(engine, adapters, worker: str, now: datetime, lease_seconds: float,
              batch: int = 1) -> list[Claim]:
    """Claim up to `batch` due deliveries for `worker`, with their events, in due order.

    One statement on PostgreSQL, which commits on its own; two on SQLite, in one transaction.
    """
    if not adapters:
        return []
    with transaction(engine, postgresql_autocommit=True) as conn:
        return claim_in(conn, adapters, worker, now, lease_seconds, batch)


def claim_in(conn, adapters, worker: str, now: datetime, lease_seconds: float,
             batch: int = 1) -> list[Claim]:
    """`claim_due` inside a transaction the store opened, such as a breaker's probe."""
    rows = conn.execute(_claim_statement(conn.dialect.name), {
        "now": now, "adapters": list(adapters), "worker": worker, "batch": batch,
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
    }).all()
    if conn.dialect.name == "postgresql":
        claims = [_claim_of(row, row.event_id, row.payload) for row in rows]
    elif rows:
        found = conn.execute(_claimed_events_statement(),
                             {"seqs": [row.event_seq for row in rows]})
        payloads = {event.seq: event for event in found}
        claims = [_claim_of(row, payloads[row.event_seq].id, payloads[row.event_seq].payload)
                  for row in rows]
    else:
        claims = []
    # RETURNING comes in no promised order; deliveries are attempted in due order.
    return sorted(claims, key=lambda held: (held.due_at, held.id))


@lru_cache
def _claimed_events_statement():
    return select(events.c.seq, events.c.id, events.c.payload).where(
        events.c.seq.in_(bindparam("seqs", expanding=True)))


def _claim_of(row, event_id: str, payload: str) -> Claim:
    return Claim(id=row.id, adapter=row.adapter, attempts=row.attempts,
                 retries_since=row.retries_since, due_at=row.due_at, event_id=event_id,
                 event=json.loads(payload), last_error=row.last_error)


def release(engine, claims: list[Claim], worker: str) -> int:
    """Give back claims `worker` never attempted, as if they had not been claimed."""
    if not claims:
        return 0
    with transaction(engine, postgresql_autocommit=True) as conn:  # one statement
        result = conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_([held.id for held in claims]),
                   deliveries.c.lease_owner == worker,
                   deliveries.c.state == PENDING)
            .values(lease_owner=None, lease_expires_at=None,
                    attempts=deliveries.c.attempts - 1))
        return result.rowcount


def _row_query():
    return select(
        deliveries, events.c.id.label("event_id"), events.c.kind,
    ).join(events, events.c.seq == deliveries.c.event_seq)


def _row(row) -> DeliveryRow:
    return DeliveryRow(
        id=row.id, event_id=row.event_id, kind=row.kind, adapter=row.adapter,
        conversation_id=row.conversation_id, state=row.state, attempts=row.attempts,
        due_at=row.due_at, last_error=row.last_error, last_attempt_at=row.last_attempt_at,
        finished_at=row.finished_at, lease_owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at,
    )


def list_deliveries(conn, *, state: str | None = None, adapter: str | None = None,
                    event_id: str | None = None, limit: int = 50) -> list[DeliveryRow]:
    """Deliveries, newest first, filtered by state, adapter or event."""
    query = _row_query().order_by(deliveries.c.id.desc()).limit(limit)
    if state:
        query = query.where(deliveries.c.state == state)
    if adapter:
        query = query.where(deliveries.c.adapter == adapter)
    if event_id:
        query = query.where(events.c.id == event_id)
    return [_row(row) for row in conn.execute(query)]


def waiting_for(conn, delivery_id: int) -> str | None:
    """The event a pending delivery waits behind: the first pending one of its conversation."""
    this, earlier = deliveries.alias("this"), deliveries.alias("earlier")
    query = (select(events.c.id)
             .select_from(earlier.join(events, events.c.seq == earlier.c.event_seq))
             .join(this, and_(this.c.adapter == earlier.c.adapter,
                              this.c.conversation_id == earlier.c.conversation_id,
                              this.c.event_seq > earlier.c.event_seq))
             .where(this.c.id == delivery_id, this.c.state == PENDING,
                    earlier.c.state == PENDING)
             .order_by(earlier.c.event_seq).limit(1))
    return conn.execute(query).scalar()


def get_delivery(conn, delivery_id: int) -> DeliveryRow | None:
    row = conn.execute(_row_query().where(deliveries.c.id == delivery_id)).first()
    return _row(row) if row else None


def count_by_state(conn) -> dict[tuple[str, str], int]:
    """How many deliveries each (adapter, state) pair has."""
    query = select(deliveries.c.adapter, deliveries.c.state, func.count()).group_by(
        deliveries.c.adapter, deliveries.c.state)
    return {(adapter, state): total for adapter, state, total in conn.execute(query)}


def retry_dead(conn, now: datetime, *, ids=None, adapter: str | None = None) -> int:
    """Make dead letters pending again, due now, with a fresh retry horizon.

    They count as pending from now (`created_at`), so the backlog's age and its alerts say
    how long the retry has waited, not how old the dead letter was.
    """
    conditions = [deliveries.c.state == DEAD]
    if ids:
        conditions.append(deliveries.c.id.in_(list(ids)))
    if adapter:
        conditions.append(deliveries.c.adapter == adapter)
    result = conn.execute(update(deliveries).where(and_(*conditions)).values(
        state=PENDING, due_at=now, retries_since=now, finished_at=None, created_at=now))
    return result.rowcount


def replay(conn, event_id: str, adapter: str, now: datetime) -> bool:
    """Deliver an event to `adapter` again (or for the first time); False if no such event."""
    event = conn.execute(
        select(events.c.seq, events.c.conversation_id).where(events.c.id == event_id)
    ).first()
    if event is None:
        return False
    fresh = {"state": PENDING, "due_at": now, "retries_since": now, "finished_at": None,
             "lease_owner": None, "lease_expires_at": None, "created_at": now}
    statement = insert_for(conn, deliveries).values(
        event_seq=event.seq, adapter=adapter, conversation_id=event.conversation_id,
        attempts=0, **fresh,
    ).on_conflict_do_update(
        index_elements=["event_seq", "adapter"], set_=fresh,
        # A pending row is on its way already, perhaps leased this moment: leave it be.
        where=deliveries.c.state != PENDING,
    )
    conn.execute(statement)
    return True
