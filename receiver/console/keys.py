"""The key that signs console sessions: random, made once, kept in the database.

Every web process reads the same key, so a session signed by one is valid in all of them
and after restarts; deleting the row signs everyone out.
"""

import secrets as random
from datetime import datetime, timezone

from sqlalchemy import select

from ..state import current
from ..store.dialect import insert_for
from ..store.tables import secrets
from ..store.transactions import reading, transaction

NAME = "console_session_key"


def stored_key(engine) -> str:
    """The stored key, made and stored first if there is none yet."""
    query = select(secrets.c.value).where(secrets.c.name == NAME)
    with reading(engine) as conn:
        key = conn.execute(query).scalar()
    if key is None:
        # Two processes may both get here: the first insert wins and both read it back.
        with transaction(engine) as conn:
            conn.execute(insert_for(conn, secrets).values(
                name=NAME, value=random.token_urlsafe(48), created_at=datetime.now(timezone.utc),
            ).on_conflict_do_nothing())
            key = conn.execute(query).scalar_one()
    return key


def signing_key() -> str:
    """The current app's key, read from the database once per process."""
    receiver = current()
    if receiver.console.signing_key is None:
        receiver.console.signing_key = stored_key(receiver.engine)
    return receiver.console.signing_key
