"""PostgreSQL connections that sat idle are pinged before use; ones just used are trusted."""

import pytest
from freezegun import freeze_time
from sqlalchemy import text

from receiver.store.db import make_engine
from receiver.store.liveness import IDLE_SECONDS
from receiver.store.transactions import StoreUnavailable, transaction

from .postgres import terminate_backends

pytestmark = pytest.mark.postgres


def backend_pid(engine) -> int:
    with transaction(engine) as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


@pytest.fixture
def engine(postgres_url):
    engine = make_engine(postgres_url, pool_size=1)
    yield engine
    engine.dispose()


def test_an_idle_connection_killed_by_the_server_is_replaced_before_use(engine, postgres_url):
    with freeze_time("2026-11-21 12:00:00") as clock:
        killed = backend_pid(engine)
        assert terminate_backends(postgres_url, killed) == 1
        clock.tick(IDLE_SECONDS + 0.5)
        assert backend_pid(engine) != killed  # no error reached the caller


@pytest.fixture
def pings(engine, monkeypatch):
    """The connections the pool pinged, counted as the real pings run."""
    pinged = []
    real_ping = engine.dialect.do_ping

    def counted(dbapi_connection):
        pinged.append(dbapi_connection)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pinged


def test_a_connection_just_used_is_not_pinged_and_an_idle_one_is(engine, pings):
    with freeze_time("2026-11-21 12:00:00") as clock:
        pid = backend_pid(engine)
        clock.tick(IDLE_SECONDS / 2)
        assert backend_pid(engine) == pid
        assert pings == []  # a fresh connection and one used half a window ago
        clock.tick(IDLE_SECONDS)
        assert backend_pid(engine) == pid
        assert len(pings) == 1


def test_a_connection_killed_within_the_idle_window_fails_once_then_the_pool_reconnects(
        engine, postgres_url):
    with freeze_time("2026-11-21 12:00:00"):
        killed = backend_pid(engine)
        assert terminate_backends(postgres_url, killed) == 1
        with pytest.raises(StoreUnavailable):  # a 503 the sender retries
            backend_pid(engine)
        assert backend_pid(engine) != killed
