"""Token buckets kept in the store, one per CRM account and limit, shared by every worker."""

from dataclasses import dataclass

from sqlalchemy import select, update

from .dialect import insert_for
from .tables import rate_budgets


@dataclass(frozen=True)
class Bucket:
    """Holds at most `capacity` calls and gains `per_second` calls a second."""

    capacity: float
    per_second: float

    def level(self, tokens: float, refilled_at: float, now: float) -> float:
        """The tokens held at `now`, refilled since `refilled_at`, never above capacity."""
        return min(self.capacity, tokens + max(0.0, now - refilled_at) * self.per_second)

    def grant(self, tokens: float, want: int) -> tuple[int, float]:
        """How many of `want` calls `tokens` cover (at least one, or none), and else how
        long until one is covered."""
        granted = min(want, int(tokens))
        if granted:
            return granted, 0.0
        return 0, (1 - tokens) / self.per_second


def take(conn, key: str, bucket: Bucket, want: int, now: float) -> tuple[int, float]:
    """Take up to `want` calls from the bucket `key`: (calls granted, seconds to wait if none).

    One short transaction: the row is locked (PostgreSQL) or the write lock held (SQLite)
    from the read to the write, so two workers never take the same token.
    """
    row = conn.execute(select(rate_budgets).where(rate_budgets.c.key == key)
                       .with_for_update()).first()
    if row is None:
        conn.execute(insert_for(conn, rate_budgets).values(
            key=key, tokens=bucket.capacity, refilled_at=now, blocked_until=0.0)
            .on_conflict_do_nothing())
        row = conn.execute(select(rate_budgets).where(rate_budgets.c.key == key)
                           .with_for_update()).first()
    if now < row.blocked_until:
        return 0, row.blocked_until - now  # nothing refills while the CRM refuses calls
    tokens = bucket.level(row.tokens, row.refilled_at, now)
    granted, wait = bucket.grant(tokens, want)
    conn.execute(update(rate_budgets).where(rate_budgets.c.key == key)
                 .values(tokens=tokens - granted, refilled_at=now))
    return granted, wait


def lower(conn, key: str, tokens: float) -> None:
    """The CRM says fewer calls are left than the bucket holds: hold no more than that."""
    conn.execute(update(rate_budgets)
                 .where(rate_budgets.c.key == key, rate_budgets.c.tokens > tokens)
                 .values(tokens=tokens))


def block(conn, key: str, until: float) -> None:
    """The CRM refused a call (429): grant nothing until `until`, and start empty then."""
    conn.execute(update(rate_budgets)
                 .where(rate_budgets.c.key == key, rate_budgets.c.blocked_until < until)
                 .values(tokens=0.0, refilled_at=until, blocked_until=until))
