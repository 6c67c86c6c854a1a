"""What is waiting or failed, and the last hours' activity: the Overview's and Dead letters' reads."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ..backlog import DEAD_BY_ADAPTER, FINISHED, HELD_IN_QUARANTINE, PENDING_BY_ADAPTER, state_is
from ..store.tables import DEAD, DELIVERED, deliveries, delivery_attempts, events


@dataclass(frozen=True)
class AdapterCounts:
    """An adapter's deliveries by state, and how long the oldest pending one has waited."""

    name: str
    delivered: int = 0
    pending: int = 0
    dead: int = 0
    oldest_pending: datetime | None = None


def dead_by_adapter(conn) -> dict[str, int]:
    """How many dead letters each adapter has, configured or not."""
    return dict(conn.execute(DEAD_BY_ADAPTER).all())


def adapter_counts(conn, names) -> list[AdapterCounts]:
    """Counts for each named adapter, each off an index: one count per adapter and state.

    Delivered rows are counted one adapter at a time, so each count walks one range of the
    partial index on finished deliveries and needs no grouping.
    """
    dead = dead_by_adapter(conn)
    pending = {adapter: (total, oldest)
               for adapter, total, oldest in conn.execute(PENDING_BY_ADAPTER)}
    found = []
    for name in names:
        delivered = conn.execute(select(func.count()).select_from(deliveries).where(
            FINISHED, state_is(DELIVERED), deliveries.c.adapter == name)).scalar_one()
        waiting, oldest = pending.get(name, (0, None))
        found.append(AdapterCounts(name, delivered, waiting, dead.get(name, 0), oldest))
    return found


def held_count(conn) -> int:
    return conn.execute(HELD_IN_QUARANTINE).scalar_one()


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
            .where(state_is(DEAD), deliveries.c.adapter == adapter)
            .order_by(deliveries.c.id.desc()).limit(limit))
        found.extend(DeadLetter(*row) for row in rows)
    return sorted(found, key=lambda row: row.id, reverse=True)[:limit]


def hours(now: datetime, count: int) -> list[datetime]:
    """The starts of the last `count` hours, oldest first, the current hour last."""
    top = now.replace(minute=0, second=0, microsecond=0)
    return [top - timedelta(hours=back) for back in range(count - 1, -1, -1)]


def hour_key(hour: datetime) -> str:
    return hour.strftime("%Y-%m-%d %H")
