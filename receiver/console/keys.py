"""The key that signs console sessions: random, made once, kept in the database.

Every web process reads the same key, so a session signed by one is valid in all of them
and after restarts; deleting the row signs everyone out.
"""

import secrets as random
from datetime import datetime, timezone

from flask import current_app
from sqlalchemy import select

from ..store.db import get_engine
from ..store.dialect import insert_for
from ..store.tables import secrets
from ..store.transactions import reading, transaction

NAME = "console_session_key"
EXTENSION = "receiver.console.key"


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
    key = current_app.extensions.get(EXTENSION)
    if key is None:
        key = current_app.extensions[EXTENSION] = stored_key(get_engine())
    return key
