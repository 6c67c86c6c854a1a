"""The PostgreSQL server the tests use: throwaway databases, emptied tables, closed backends."""

import contextlib
import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from receiver.config import normalize_database_url

POSTGRES_VARIABLE = "RECEIVER_TEST_POSTGRES_URL"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def postgres_admin_url() -> str:
    """The server's administrative database, from RECEIVER_TEST_POSTGRES_URL or the local default."""
    return normalize_database_url(os.environ.get(POSTGRES_VARIABLE, DEFAULT_POSTGRES))


@contextlib.contextmanager
def throwaway_postgres_database():
    """A new, empty database on the PostgreSQL server, dropped afterwards; skips if none answers."""
    admin_url = postgres_admin_url()
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 3})
    name = f"receiver_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # any failure to reach the server means "no server here"
        admin.dispose()
        pytest.skip(f"no PostgreSQL server at {admin_url} ({type(error).__name__}); "
                    f"set {POSTGRES_VARIABLE}=postgresql://user@host:port/db to run these")
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def truncate(url: str) -> None:
    """Empty the receiver's tables in the database at `url`, as a fresh migration leaves them."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE events, deliveries, quarantine, crm_links, crm_identities,"
                          " crm_notes, paused_adapters, adapter_breakers, rate_budgets"
                          " RESTART IDENTITY CASCADE"))
    engine.dispose()


def terminate_backends(url: str, pid: int | None = None) -> int:
    """Close PostgreSQL backend `pid`, or, without one, every other backend of `url`'s database.

    As a server restart or failover closes them; returns how many were closed.
    """
    which = "pid = :pid" if pid else "datname = current_database() AND pid <> pg_backend_pid()"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        closed = conn.execute(text(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000))"
            f" FROM pg_stat_activity WHERE {which}"), {"pid": pid}).scalar_one()
    admin.dispose()
    return closed
