"""CRM record ids per conversation and adapter: remembered after delivery, read when answering."""

import json
from datetime import datetime

from sqlalchemy import bindparam, delete, func, select

from ..jsontext import canonical_json
from .dialect import insert_for
from .prepared import Prepared
from .tables import crm_links


def remember(conn, conversation_id: str, adapter: str, references: dict, now: datetime) -> None:
    """Merge `references` into what the adapter reported for the conversation before."""
    remember_all(conn, {(conversation_id, adapter): references}, now)


def remember_all(conn, references: dict[tuple[str, str], dict], now: datetime) -> None:
    """`remember` for several (conversation id, adapter) pairs: one read and one write."""
    if not references:
        return
    rows = conn.execute(select(crm_links.c.conversation_id, crm_links.c.adapter, crm_links.c.refs)
                        .where(crm_links.c.conversation_id.in_({key[0] for key in references})))
    known = {(row.conversation_id, row.adapter): json.loads(row.refs) for row in rows}
    insert = insert_for(conn, crm_links)
    statement = insert.on_conflict_do_update(
        index_elements=["conversation_id", "adapter"],
        set_={"refs": insert.excluded.refs, "updated_at": insert.excluded.updated_at})
    # In key order, so two writers of overlapping pairs queue rather than deadlock.
    conn.execute(statement, [
        {"conversation_id": conversation_id, "adapter": adapter, "updated_at": now,
         "refs": canonical_json({**known.get((conversation_id, adapter), {}), **refs})}
        for (conversation_id, adapter), refs in sorted(references.items())])


def _known_statement(dialect_name: str):
    return select(crm_links.c.adapter, crm_links.c.refs).where(
        crm_links.c.conversation_id == bindparam("conversation_id")).order_by(crm_links.c.adapter)


def known(cursor, dialect, conversation_id: str) -> dict[str, dict]:
    """Each adapter's record ids for the conversation, by adapter name, read on a DBAPI cursor."""
    statement = Prepared.once("links.known", _known_statement, dialect)
    rows = statement.run(cursor, {"conversation_id": conversation_id}).fetchall()
    return {adapter: json.loads(refs) for adapter, refs in rows}


def count_stale(conn, older_than: datetime) -> int:
    """How many links `prune` would forget now, for a dry run."""
    return conn.execute(select(func.count()).select_from(crm_links)
                        .where(crm_links.c.updated_at < older_than)).scalar_one()


def prune(conn, older_than: datetime) -> int:
    """Forget links not updated since `older_than`; their conversations are long over."""
    return conn.execute(delete(crm_links).where(crm_links.c.updated_at < older_than)).rowcount
