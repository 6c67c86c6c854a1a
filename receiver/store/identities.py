"""The CRM record each visitor identifier was matched to, and claims to create one.

Identifiers are kept as digests, so the table holds no email or phone in clear. Every
function runs inside the caller's transaction.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update

from .dialect import insert_for, upsert
from .scoped import delete_pairs
from .tables import crm_identities as table


@dataclass(frozen=True)
class Known:
    """What one identifier's row holds: its record, or a claim to create one, or both empty."""

    record_id: str | None
    matched_by: str | None
    claimed_by: str | None
    claimed_until: datetime | None
    synced: str | None = None  # digests of the fields last synced to the record
    updated_at: datetime | None = None  # when last written, or used to match (see `touch`)


class Taken(Exception):
    """Another delivery holds the claim to create this visitor's record until `until`."""

    def __init__(self, until: datetime):
        super().__init__(f"claimed until {until.isoformat()}")
        self.until = until


def digest(kind: str, value: str) -> str:
    """The identifier as stored: `email:maria@example.com` as a SHA-256 hex digest."""
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def known(conn, scope: str, identifiers: list[str], *, lock: bool = False) -> dict[str, Known]:
    """The rows of these identifiers, by identifier; with `lock`, held until the commit."""
    query = select(table).where(table.c.scope == scope, table.c.identifier.in_(identifiers))
    if lock:
        query = query.with_for_update()
    return {row.identifier: Known(row.record_id, row.matched_by, row.claimed_by,
                                  row.claimed_until, row.synced, row.updated_at)
            for row in conn.execute(query)}


def link(conn, scope: str, identifiers: list[str], record_id: str, matched_by: str,
         now: datetime, synced: str | None = None) -> None:
    """Remember `record_id` under every identifier, ending any claim on them; `synced` holds
    the digests of the fields the record was last synced with, if known."""
    for identifier in sorted(identifiers):
        conn.execute(upsert(conn, table, {"scope": scope, "identifier": identifier}, {
            "record_id": record_id, "matched_by": matched_by, "claimed_by": None,
            "claimed_until": None, "updated_at": now, "synced": synced}))


def touch(conn, scope: str, identifiers: list[str], now: datetime) -> None:
    """Note that these identifiers' links were used to match a visitor, so a prune keeps them."""
    conn.execute(update(table).where(table.c.scope == scope, table.c.identifier.in_(identifiers),
                                     table.c.record_id.is_not(None)).values(updated_at=now))


def link_all(conn, scope: str, links: dict[str, tuple[str, str, str | None]],
             now: datetime) -> None:
    """`link` for several identifiers, each to its (record id, matched by, synced), in one
    statement, in sorted order as `link` writes them."""
    if not links:
        return
    insert = insert_for(conn, table)
    statement = insert.on_conflict_do_update(
        index_elements=["scope", "identifier"],
        set_={name: insert.excluded[name] for name in
              ("record_id", "matched_by", "claimed_by", "claimed_until", "updated_at", "synced")})
    conn.execute(statement, [
        {"scope": scope, "identifier": identifier, "record_id": record_id,
         "matched_by": matched_by, "claimed_by": None, "claimed_until": None,
         "updated_at": now, "synced": synced}
        for identifier, (record_id, matched_by, synced) in sorted(links.items())])


def claim(conn, scope: str, identifiers: list[str], owner: str, now: datetime,
          until: datetime) -> Known | None:
    """Claim the creation of these identifiers' record for `owner` until `until`.

    Returns None once claimed, or the row of an identifier that already has a record;
    raises Taken while another owner's claim runs. `claim_all` of one visitor.
    """
    (result,) = claim_all(conn, scope, [(identifiers, owner)], now, until)
    if isinstance(result, Taken):
        raise result
    return result


def claim_all(conn, scope: str, claims: list[tuple[list[str], str]], now: datetime,
              until: datetime) -> list[Known | Taken | None]:
    """`claim` for several visitors at once, each (identifiers, owner), no two sharing an
    identifier: for each, None once claimed, the row of an identifier that already has a
    record, or Taken (returned, not raised) while another owner's claim runs.

    One transaction: every row is inserted and locked in sorted order, so two claims of
    overlapping identifiers queue on PostgreSQL instead of deadlocking; a refused claim
    leaves no row of its own behind.
    """
    identifiers = sorted({identifier for keys, _ in claims for identifier in keys})
    owners = {identifier: owner for keys, owner in claims for identifier in keys}
    conn.execute(insert_for(conn, table).on_conflict_do_nothing(
        index_elements=["scope", "identifier"]), [
        {"scope": scope, "identifier": identifier, "claimed_by": owners[identifier],
         "claimed_until": until, "updated_at": now} for identifier in identifiers])
    rows = known(conn, scope, identifiers, lock=True)
    results = []
    for keys, owner in claims:
        mine = [rows[key] for key in keys if key in rows]
        linked = next((row for row in mine if row.record_id), None)
        held = [row.claimed_until for row in mine
                if row.claimed_by != owner and row.claimed_until and row.claimed_until > now]
        if linked:
            results.append(linked)
        elif held:
            results.append(Taken(max(held)))
            conn.execute(delete(table).where(  # what this owner inserted above
                table.c.scope == scope, table.c.identifier.in_(keys),
                table.c.claimed_by == owner, table.c.record_id.is_(None)))
        else:
            results.append(None)
    for (keys, owner), result in zip(claims, results):
        if result is None:
            conn.execute(update(table).where(table.c.scope == scope,
                                             table.c.identifier.in_(keys))
                         .values(claimed_by=owner, claimed_until=until, updated_at=now))
    return results


def release(conn, scope: str, identifiers: list[str], owner: str) -> None:
    """Drop `owner`'s claim: its create was refused, so nothing was made."""
    conn.execute(delete(table).where(
        table.c.scope == scope, table.c.identifier.in_(identifiers),
        table.c.claimed_by == owner, table.c.record_id.is_(None)))


def forget(conn, scope: str, record_id: str) -> None:
    """Forget a record the CRM no longer has (deleted, or merged into another)."""
    conn.execute(delete(table).where(table.c.scope == scope, table.c.record_id == record_id))


# Retention. A link saves the CRM look-ups of a returning visitor: without it the matcher
# finds the same record by token, email or phone (see adapters/matching.py) and links it
# again. A row neither written nor used for the retention period goes, unless it is a claim
# still running.

def _stale(older_than: datetime, now: datetime) -> list:
    return [table.c.updated_at < older_than,
            or_(table.c.claimed_until.is_(None), table.c.claimed_until <= now)]


def prune(conn, older_than: datetime, now: datetime, *, batch: int) -> int:
    """Delete one batch of rows not written or used since `older_than`; how many went."""
    keys = select(table.c.scope, table.c.identifier).where(*_stale(older_than, now)) \
        .order_by(table.c.updated_at).limit(batch)
    # Checked again at delete time: a delivery may have linked the visitor meanwhile.
    return delete_pairs(conn, table, table.c.identifier, conn.execute(keys).all(),
                        *_stale(older_than, now))


def count_stale(conn, older_than: datetime, now: datetime) -> int:
    """How many rows `prune` would delete now, for a dry run."""
    return conn.execute(select(func.count()).select_from(table)
                        .where(*_stale(older_than, now))).scalar_one()
