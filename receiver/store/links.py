"""CRM record ids per conversation and adapter: remembered after delivery, read when answering."""

import json
from datetime import datetime

from sqlalchemy import bindparam, delete, func, select

from ..jsontext import canonical_json
from .dialect import upsert
from .prepared import Prepared
from .tables import crm_links


def remember(conn, conversation_id: str, adapter: str, references: dict, now: datetime) -> None:
    """Merge `references` into what the adapter reported for the conversation before."""
    known = conn.execute(select(crm_links.c.refs).where(
        crm_links.c.conversation_id == conversation_id, crm_links.c.adapter == adapter)).scalar()
    merged = {**(json.loads(known) if known else {}), **references}
    values = {"refs": canonical_json(merged), "updated_at": now}
    conn.execute(upsert(conn, crm_links, {"conversation_id": conversation_id, "adapter": adapter},
                        values))


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
