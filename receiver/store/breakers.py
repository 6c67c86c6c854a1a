"""Adapters a circuit breaker paused: a `paused_adapters` row, plus when to probe and why."""

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, func, select, update

from . import deliveries, pauses
from .dialect import upsert
from .tables import adapter_breakers, paused_adapters
from .transactions import reading, transaction

# A breaker row counts only while the pause it made lasts: an operator's resume ends it,
# and a later pause by an operator is the operator's.
OPEN = exists().where(and_(paused_adapters.c.adapter == adapter_breakers.c.adapter,
                           paused_adapters.c.paused_at == adapter_breakers.c.opened_at))


def open_breaker(conn, adapter: str, now: datetime, probe_in: float, reason: str) -> bool:
    """Pause `adapter` automatically; False if it was paused already (by anyone)."""
    if not pauses.pause(conn, adapter, now):
        return False
    conn.execute(upsert(conn, adapter_breakers, {"adapter": adapter}, {
        "opened_at": now, "failed_probes": 0, "probe_at": now + timedelta(seconds=probe_in),
        "reason": reason}))
    return True


def due(conn, now: datetime) -> list[str]:
    """The adapters whose next probe may go now."""
    return list(conn.execute(select(adapter_breakers.c.adapter)
                             .where(OPEN, adapter_breakers.c.probe_at <= now)).scalars())


def take_probe(conn, adapter: str, now: datetime, lease_seconds: float) -> bool:
    """Reserve the adapter's probe for the caller; False if another worker took it first.

    The probe is pushed a lease ahead, so no other worker probes while this one does.
    """
    taken = conn.execute(update(adapter_breakers)
                         .where(adapter_breakers.c.adapter == adapter, OPEN,
                                adapter_breakers.c.probe_at <= now)
                         .values(probe_at=now + timedelta(seconds=lease_seconds)))
    return taken.rowcount == 1


def probe_failed(conn, adapter: str, now: datetime, probe_after) -> float:
    """Count a failed probe and set the next one `probe_after(failed probes)` seconds on."""
    failed = conn.execute(select(adapter_breakers.c.failed_probes)
                          .where(adapter_breakers.c.adapter == adapter)).scalar_one() + 1
    wait = probe_after(failed)
    conn.execute(update(adapter_breakers).where(adapter_breakers.c.adapter == adapter)
                 .values(failed_probes=failed, probe_at=now + timedelta(seconds=wait)))
    return wait


def close_breaker(conn, adapter: str, now: datetime) -> None:
    """Deliver to the adapter again, as an operator's resume would."""
    pauses.resume(conn, adapter, now)
    conn.execute(delete(adapter_breakers).where(adapter_breakers.c.adapter == adapter))


def opened(conn) -> dict:
    """The open breakers' rows by adapter: opened_at, failed_probes, probe_at, reason."""
    rows = conn.execute(select(adapter_breakers).where(OPEN).order_by(adapter_breakers.c.adapter))
    return {row.adapter: row for row in rows}


def _closed(older_than: datetime) -> list:
    # Opened before `older_than`, too: a breaker opening again while the prune runs sets
    # `opened_at` to now, so the delete passes it by.
    return [~OPEN, adapter_breakers.c.opened_at < older_than]


def prune_closed(conn, older_than: datetime) -> int:
    """Delete the rows of breakers opened before `older_than` whose pause has ended (an
    operator resumed the adapter): nothing reads them, and the next trip writes its own."""
    return conn.execute(delete(adapter_breakers).where(*_closed(older_than))).rowcount


def count_closed(conn, older_than: datetime) -> int:
    """How many rows `prune_closed` would delete now, for a dry run."""
    return conn.execute(select(func.count()).select_from(adapter_breakers)
                        .where(*_closed(older_than))).scalar_one()


# What a worker's breakers (circuits.py) do, each in a transaction of its own.

def trip(engine, adapter: str, now: datetime, probe_in: float, reason: str) -> bool:
    """`open_breaker` in its own transaction."""
    with transaction(engine) as conn:
        return open_breaker(conn, adapter, now, probe_in, reason)


def due_now(engine, now: datetime) -> list[str]:
    """`due`, read without the write lock: most looks find nothing."""
    with reading(engine) as conn:
        return due(conn, now)


def claim_probe(engine, adapter: str, worker: str, now: datetime,
                lease_seconds: float) -> tuple[deliveries.Claim | None, bool]:
    """The adapter's probe delivery claimed for `worker`, if its probe was free to take, and
    whether the breaker closed instead because no delivery waits for it."""
    with transaction(engine) as conn:
        if not take_probe(conn, adapter, now, lease_seconds):
            return None, False
        claims = deliveries.claim_in(conn, [adapter], worker, now, lease_seconds, 1)
        if not claims:  # nothing waits for it: nothing to lose by resuming it
            close_breaker(conn, adapter, now)
            return None, True
        return claims[0], False


def settle_probe(engine, adapter: str, reached: bool, now: datetime, probe_after) -> float | None:
    """Close the breaker after a probe that reached the CRM (None); else the seconds to the
    next probe."""
    with transaction(engine) as conn:
        if reached:
            close_breaker(conn, adapter, now)
            return None
        return probe_failed(conn, adapter, now, probe_after)
