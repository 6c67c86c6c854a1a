"""Tests a pooled connection before use, but only one that has sat idle, where a dead one hides.

SQLAlchemy's `pool_pre_ping` pings on every checkout: a round trip per request, a tenth of a
millisecond that a busy web process pays thousands of times a second for connections it
used a moment ago. A connection that has been idle is the one a database restart, a
failover or an idle timeout has most likely killed, so that one is pinged. A connection
that dies within the idle window fails its request with a 503, which the sender retries,
and the pool then replaces every connection it holds.
"""

import time

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

IDLE_SECONDS = 1.0
LAST_USED = "receiver.last_used"


def ping_when_idle(engine: Engine, idle_seconds: float = IDLE_SECONDS) -> None:
    """Make `engine`'s pool ping each connection idle for `idle_seconds` or more as it leaves."""

    @event.listens_for(engine, "connect")
    def fresh(dbapi_connection, record):
        record.info[LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def returned(dbapi_connection, record):
        record.info[LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection, record, proxy):
        if time.monotonic() - record.info.get(LAST_USED, 0.0) < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and checks out another, up to three times.
            raise DisconnectionError(f"idle connection failed its ping: {error}") from error
