"""The webhook's transaction on the bare driver connection behaves as `transaction` does."""

from contextlib import contextmanager, nullcontext

import pytest
from freezegun import freeze_time
from sqlalchemy import text

from receiver.store.db import make_engine
from receiver.store.transactions import (
    StoreUnavailable,
    driver_transaction,
    transaction,
)

from .postgres import terminate_backends


def one_connection_engine(url: str):
    # One connection, so each transaction reuses what the one before it left behind.
    return make_engine(url, pool_size=1, timeout_seconds=0.5)


@pytest.fixture
def engine(database_url):
    engine = one_connection_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine(postgres_url):
    engine = one_connection_engine(postgres_url)
    yield engine
    engine.dispose()


def stored_ids(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT id FROM probe ORDER BY id")).scalars())


@contextmanager
def probe_table(engine):
    with transaction(engine) as conn:
        conn.execute(text("CREATE TABLE probe (id VARCHAR(10) PRIMARY KEY)"))
    try:
        yield
    finally:
        with transaction(engine) as conn:
            conn.execute(text("DROP TABLE probe"))


@pytest.fixture
def probe(engine):
    with probe_table(engine):
        yield


def insert(cursor, engine, value: str) -> None:
    marker = "?" if engine.dialect.name == "sqlite" else "%s"
    cursor.execute(f"INSERT INTO probe (id) VALUES ({marker})", (value,))


@pytest.mark.parametrize("postgresql_autocommit", [False, True])
def test_what_the_block_wrote_is_committed(engine, probe, postgresql_autocommit):
    with driver_transaction(engine, postgresql_autocommit=postgresql_autocommit) as cursor:
        insert(cursor, engine, "a")
    assert stored_ids(engine) == ["a"]


def test_a_failure_in_the_block_keeps_nothing_and_frees_the_store(engine, probe):
    with pytest.raises(RuntimeError):
        with driver_transaction(engine) as cursor:
            insert(cursor, engine, "a")
            raise RuntimeError("boom")
    assert stored_ids(engine) == []
    # The write lock and the connection were given back: the next writer is not kept waiting.
    with driver_transaction(engine) as cursor:
        insert(cursor, engine, "b")
    assert stored_ids(engine) == ["b"]


def test_a_database_error_is_store_unavailable(engine, probe):
    with driver_transaction(engine) as cursor:
        insert(cursor, engine, "a")
    with pytest.raises(StoreUnavailable):
        with driver_transaction(engine, postgresql_autocommit=True) as cursor:
            insert(cursor, engine, "a")


@pytest.mark.parametrize("failing", [False, True])
def test_a_pooled_connection_goes_back_to_transactions_after_autocommit(
        postgres_engine, failing):
    engine = postgres_engine
    with probe_table(engine):
        with pytest.raises(RuntimeError) if failing else nullcontext():
            with driver_transaction(engine, postgresql_autocommit=True) as cursor:
                insert(cursor, engine, "a")
                if failing:
                    raise RuntimeError("boom")
        with transaction(engine) as conn:
            assert conn.connection.driver_connection.autocommit is False
        # With one statement, PostgreSQL committed it the moment it ran.
        assert stored_ids(engine) == ["a"]


@pytest.mark.parametrize("postgresql_autocommit", [False, True])
def test_a_connection_the_server_dropped_is_not_handed_out_again(
        postgres_engine, postgres_url, postgresql_autocommit):
    engine = postgres_engine
    with freeze_time("2026-11-21 12:00:00"):  # within the idle window: no ping would catch it
        with driver_transaction(engine, postgresql_autocommit=True) as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (killed,) = cursor.fetchone()
        assert terminate_backends(postgres_url, killed) == 1
        with pytest.raises(StoreUnavailable):  # a 503 the sender retries
            with driver_transaction(engine, postgresql_autocommit=postgresql_autocommit) as cursor:
                cursor.execute("SELECT 1")
        with driver_transaction(engine, postgresql_autocommit=True) as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            assert cursor.fetchone()[0] != killed
