"""Records what came of an attempt: the delivery's new columns, its attempt row, any record ids."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update

from . import attempts, links
from .deliveries import Claim
from .prepared import Prepared
from .tables import DEAD, DELIVERED, PENDING, deliveries
from .transactions import driver_cursor, driver_transaction, transaction


@dataclass(frozen=True)
class Outcome:
    """What came of one attempt, as the store records it."""

    kind: str  # "delivered", "retry" or "failed", as the attempt history names it
    attempted_at: datetime  # when the adapter was called; in a batch, a little after the claim
    reason: str | None = None
    due_at: datetime | None = None  # a retry's next try; None once past the retry horizon
    references: dict | None = None  # CRM record ids the adapter reported


def columns(outcome: Outcome, claim: Claim, now: datetime) -> dict:
    """The delivery's columns to write for `outcome`: finished, dead, or due again."""
    attempted = {"last_attempt_at": outcome.attempted_at}
    if outcome.kind == "delivered":
        return {"state": DELIVERED, "finished_at": now, "last_error": None, **attempted}
    if outcome.kind == "failed":
        return {"state": DEAD, "finished_at": now, "last_error": outcome.reason, **attempted}
    if outcome.due_at is None:
        reason = f"{outcome.reason} (gave up after {claim.attempts} attempts)"
        return {"state": DEAD, "finished_at": now, "last_error": reason, **attempted}
    return {"due_at": outcome.due_at, "last_error": outcome.reason, **attempted}


def finish(engine, claim: Claim, worker: str, outcome: Outcome, now: datetime) -> bool:
    """Record the outcome, the attempt and any record ids it reported; False if the lease
    was lost meanwhile (another worker's outcome stands)."""
    conversation_id = _conversation_id(claim)
    if not (outcome.references and conversation_id):
        # On the driver's own connection: this runs for every delivery. On PostgreSQL the
        # outcome and then the attempt each commit on their own, without BEGIN and COMMIT
        # round trips; an attempt lost between them only leaves the console's history short.
        with driver_transaction(engine, postgresql_autocommit=True) as cursor:
            return _finish_with_attempt(cursor, engine.dialect, claim, worker, outcome, now)
    # Record ids are written with the outcome, so they need a real transaction.
    with transaction(engine) as conn:
        with driver_cursor(conn) as cursor:
            finished = _finish_with_attempt(cursor, conn.dialect, claim, worker, outcome, now)
        if finished:
            links.remember(conn, conversation_id, claim.adapter, outcome.references, now)
        return finished


def finish_all(engine, finished: list[tuple[Claim, Outcome]], worker: str,
               now: datetime) -> list[bool]:
    """`finish` for the deliveries of one step, in one transaction: True for each whose lease
    held, in order.

    A step's batch can hold a hundred deliveries; a transaction each made recording them
    cost more than delivering them. Each is still written only where its lease held, so a
    lost lease drops that outcome alone.
    """
    if len(finished) == 1:
        (claim, outcome), = finished
        return [finish(engine, claim, worker, outcome, now)]
    with transaction(engine) as conn:
        # The leases still held, locked (PostgreSQL; SQLite's transaction holds its write
        # lock) so none is taken over before its outcome is written.
        mine = set(conn.execute(
            select(deliveries.c.id)
            .where(deliveries.c.id.in_([claim.id for claim, _ in finished]),
                   deliveries.c.lease_owner == worker, deliveries.c.state == PENDING)
            .with_for_update()).scalars())
        held = [claim.id in mine for claim, _ in finished]
        kept = [(claim, outcome) for (claim, outcome), ok in zip(finished, held) if ok]
        written: dict[tuple[str, ...], list[dict]] = {}
        for claim, outcome in kept:
            values = columns(outcome, claim, now)
            written.setdefault(tuple(sorted(values)), []).append(
                _column_parameters(claim, worker, values))
        with driver_cursor(conn) as cursor:
            # One driver call per set of columns: psycopg sends them without waiting for
            # each answer.
            for names, rows in written.items():
                _columns_prepared(names, conn.dialect).run_many(cursor, rows)
            attempts.record_all(cursor, conn.dialect, [
                (claim.id, claim.attempts, outcome.attempted_at, outcome.kind, outcome.reason)
                for claim, outcome in kept])
        references = {}
        for claim, outcome in kept:
            if outcome.references and (conversation_id := _conversation_id(claim)):
                references[(conversation_id, claim.adapter)] = outcome.references
        links.remember_all(conn, references, now)
    return held


def _finish_with_attempt(cursor, dialect, claim: Claim, worker: str, outcome: Outcome,
                         now: datetime) -> bool:
    """Write the outcome's columns and then, if the lease held, the attempt's history row."""
    if not _write_columns(cursor, dialect, claim, worker, **columns(outcome, claim, now)):
        return False
    attempts.record(cursor, dialect, claim.id, claim.attempts, outcome.attempted_at,
                    outcome.kind, outcome.reason)
    return True


def _columns_statement(names: tuple[str, ...]):
    # Only the lease holder may record an outcome: a worker whose lease expired and was
    # taken over must not overwrite the new holder's result.
    return (
        update(deliveries)
        .where(deliveries.c.id == bindparam("claim_id"),
               deliveries.c.lease_owner == bindparam("worker"),
               deliveries.c.state == PENDING)
        .values(lease_owner=None, lease_expires_at=None,
                **{name: bindparam(f"v_{name}", type_=deliveries.c[name].type)
                   for name in names})
    )


def _columns_prepared(names: tuple[str, ...], dialect) -> Prepared:
    """The statement writing these columns, compiled once per set of them: a worker
    finishes every delivery it claims."""
    return Prepared.once(f"deliveries.finish:{','.join(names)}",
                         lambda dialect_name: _columns_statement(names), dialect)


def _write_columns(cursor, dialect, claim: Claim, worker: str, **values) -> bool:
    """Write `values` on a DBAPI cursor; False if the lease was lost meanwhile."""
    statement = _columns_prepared(tuple(sorted(values)), dialect)
    return statement.run(cursor, _column_parameters(claim, worker, values)).rowcount == 1


def _column_parameters(claim: Claim, worker: str, values: dict) -> dict:
    """The parameters of `_columns_statement` writing `values` where `worker` holds the lease."""
    return {"claim_id": claim.id, "worker": worker,
            **{f"v_{name}": value for name, value in values.items()}}


def _conversation_id(claim: Claim) -> str | None:
    """The conversation of the claimed event, which the record ids it reports belong to."""
    return (claim.event.get("conversation") or {}).get("id")
