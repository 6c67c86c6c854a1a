"""The backlog gauges of /metrics, read from the store at most every few seconds per process."""

import threading
import time

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, literal_column, select

from . import clock
from .store import breakers
from .store.tables import DEAD, HELD, PENDING, deliveries, quarantine
from .store.transactions import reading

# How long one process serves the gauges it read: counting a backlog of 300,000 takes a
# tenth of a second or more, and scrapers may be many.
BACKLOG_SECONDS = 5


def state_is(state: str):
    """`deliveries.state = '<state>'` with the state written out, not bound.

    SQLite uses a partial index only when the query states its condition word for word,
    and a bound parameter is no word.
    """
    return deliveries.c.state == literal_column(f"'{state}'")


# The condition of the partial index on finished deliveries, word for word.
FINISHED = literal_column(f"deliveries.state <> '{PENDING}'")

# The backlog's reads, shared with the console (console/backlog.py); each reads one index
# alone (tables.py), however large the backlog.
PENDING_BY_ADAPTER = (select(deliveries.c.adapter, func.count(), func.min(deliveries.c.created_at))
                      .where(state_is(PENDING)).group_by(deliveries.c.adapter))
# `state <> pending` says nothing new, but SQLite uses a partial index only when the query
# repeats its condition: without it, this scanned the whole table.
DEAD_BY_ADAPTER = (select(deliveries.c.adapter, func.count())
                   .where(FINISHED, state_is(DEAD)).group_by(deliveries.c.adapter))
HELD_IN_QUARANTINE = select(func.count()).select_from(quarantine).where(quarantine.c.state == HELD)
STATEMENTS = (PENDING_BY_ADAPTER, DEAD_BY_ADAPTER, HELD_IN_QUARANTINE)


class Backlog:
    """The backlog gauges, read at most once per `seconds`, by one caller at a time."""

    def __init__(self, adapters: tuple[str, ...] = (), seconds: float = BACKLOG_SECONDS):
        self.adapters, self.seconds = adapters, seconds
        self._reading = threading.Lock()
        self._families: list = []
        self._read_at: float | None = None

    def families(self, engine) -> list:
        """The latest gauges; empty when the store did not answer the last read."""
        if not self._stale():
            return self._families
        with self._reading:
            if self._stale():  # no other scrape read them while this one waited
                try:
                    self._families = read_backlog(engine, self.adapters)
                except Exception:  # the store is down: say so, and still serve the counters
                    self._families = []
                self._read_at = time.monotonic()
        return self._families

    def _stale(self) -> bool:
        return self._read_at is None or time.monotonic() - self._read_at >= self.seconds


def read_backlog(engine, adapters: tuple[str, ...] = ()) -> list:
    """Pending, oldest pending and dead deliveries per adapter, and held quarantine.

    Each of `adapters` (the configured ones) reads 0 when it has nothing pending or dead, so
    a drained backlog shows as 0 rather than as a series that vanished.
    """
    now = clock.now()
    pending = GaugeMetricFamily("receiver_deliveries_pending", "Deliveries not yet done",
                                labels=["adapter"])
    oldest = GaugeMetricFamily("receiver_oldest_pending_delivery_age_seconds",
                               "Age of the oldest pending delivery", labels=["adapter"])
    dead = GaugeMetricFamily("receiver_dead_letters", "Deliveries given up on",
                             labels=["adapter"])
    with reading(engine) as conn:
        waiting = {adapter: (total, first) for adapter, total, first in
                   conn.execute(PENDING_BY_ADAPTER)}
        given_up = dict(conn.execute(DEAD_BY_ADAPTER).all())
        held = conn.execute(HELD_IN_QUARANTINE).scalar()
        tripped = breakers.opened(conn)
    breaker = GaugeMetricFamily("receiver_adapter_breaker_open",
                                "1 while the circuit breaker keeps the adapter paused",
                                labels=["adapter"])
    for adapter in sorted(set(adapters) | set(waiting) | set(given_up)):
        total, first = waiting.get(adapter, (0, None))
        pending.add_metric([adapter], total)
        oldest.add_metric([adapter], clock.since(first, now) if first else 0)
        dead.add_metric([adapter], given_up.get(adapter, 0))
    for adapter in sorted(set(adapters) | set(tripped)):
        breaker.add_metric([adapter], 1 if adapter in tripped else 0)
    return [pending, oldest, dead, breaker,
            GaugeMetricFamily("receiver_quarantine_held", "Bodies held in quarantine",
                              value=held)]
