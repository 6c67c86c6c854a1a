"""Each call of an adapter for a delivery, with its outcome: the console's attempt history."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select

from .prepared import Prepared
from .tables import delivery_attempts

# The longest error kept per attempt; the delivery row keeps the last one whole.
ERROR_CHARS = 2000


@dataclass(frozen=True)
class Attempt:
    """One call of an adapter: when, the attempt's number, and what came of it."""

    delivery_id: int
    attempt: int
    attempted_at: datetime
    outcome: str
    error: str | None


COLUMNS = ("delivery_id", "attempt", "attempted_at", "outcome", "error")


def _insert_statement(dialect_name: str):
    return delivery_attempts.insert().values(
        {name: bindparam(name, type_=delivery_attempts.c[name].type) for name in COLUMNS})


def record(cursor, dialect, delivery_id: int, attempt: int, attempted_at: datetime,
           outcome: str, error: str | None) -> None:
    """Add one attempt, on a DBAPI cursor (see `transactions.driver_transaction`)."""
    statement = Prepared.once("attempts.insert", _insert_statement, dialect)
    statement.run(cursor, {"delivery_id": delivery_id, "attempt": attempt,
                           "attempted_at": attempted_at, "outcome": outcome,
                           "error": error[:ERROR_CHARS] if error else None})


def record_all(cursor, dialect, rows: list[tuple]) -> None:
    """Add several attempts, each (delivery id, attempt, attempted at, outcome, error), in
    one driver call."""
    if not rows:
        return
    statement = Prepared.once("attempts.insert", _insert_statement, dialect)
    statement.run_many(cursor, [{"delivery_id": delivery_id, "attempt": attempt,
                                 "attempted_at": attempted_at, "outcome": outcome,
                                 "error": error[:ERROR_CHARS] if error else None}
                                for delivery_id, attempt, attempted_at, outcome, error in rows])


def of_deliveries(conn, delivery_ids) -> dict[int, list[Attempt]]:
    """Every attempt of each of the deliveries, oldest first, by delivery id."""
    found: dict[int, list[Attempt]] = {delivery_id: [] for delivery_id in delivery_ids}
    if not found:
        return found
    rows = conn.execute(select(delivery_attempts)
                        .where(delivery_attempts.c.delivery_id.in_(list(found)))
                        .order_by(delivery_attempts.c.delivery_id, delivery_attempts.c.id))
    for row in rows:
        found[row.delivery_id].append(Attempt(row.delivery_id, row.attempt, row.attempted_at,
                                              row.outcome, row.error))
    return found
