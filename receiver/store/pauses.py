"""Paused adapters: stored, so a pause outlives restarts; workers claim none of their deliveries."""

import time
from datetime import datetime

from sqlalchemy import delete, select, update

from .dialect import insert_for
from .tables import PENDING, deliveries, paused_adapters
from .transactions import StoreUnavailable, reading


def pause(conn, adapter: str, now: datetime) -> bool:
    """Pause `adapter`; False if it was paused already."""
    statement = insert_for(conn, paused_adapters).values(adapter=adapter, paused_at=now) \
        .on_conflict_do_nothing().returning(paused_adapters.c.adapter)
    return conn.execute(statement).first() is not None


def resume(conn, adapter: str, now: datetime) -> bool:
    """Resume `adapter`; False if it was not paused.

    Its pending deliveries get a fresh retry horizon: the time they waited paused must
    not make a first failure after it a dead letter.
    """
    removed = conn.execute(delete(paused_adapters).where(paused_adapters.c.adapter == adapter))
    if removed.rowcount != 1:
        return False
    conn.execute(update(deliveries)
                 .where(deliveries.c.adapter == adapter, deliveries.c.state == PENDING)
                 .values(retries_since=now))
    return True


def paused(conn) -> dict[str, datetime]:
    """When each paused adapter was paused, by name."""
    rows = conn.execute(select(paused_adapters).order_by(paused_adapters.c.adapter))
    return {row.adapter: row.paused_at for row in rows}


class PausedSet:
    """The paused adapters' names as a worker sees them, read again every `every` seconds."""

    def __init__(self, engine, every: float = 5.0, clock=time.monotonic):
        self.engine, self.every, self.clock = engine, every, clock
        self.names: frozenset[str] = frozenset()
        self.read_at: float | None = None

    def current(self) -> frozenset[str]:
        """The names, from the store when the last read is `every` seconds old."""
        now = self.clock()
        if self.read_at is None or now - self.read_at >= self.every:
            try:
                with reading(self.engine) as conn:
                    self.names = frozenset(paused(conn))
            except StoreUnavailable:
                pass  # keep the last known set; the claim that follows reports the outage
            self.read_at = now
        return self.names
