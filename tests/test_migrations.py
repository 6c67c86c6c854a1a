"""Alembic migrations: a fresh database and an upgrade with data in it, on both databases."""

import json
import warnings
from datetime import datetime, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from receiver import cli
from receiver.config import normalize_database_url
from receiver.store import contacts, schema
from receiver.store.db import make_engine
from receiver.store.deliveries import claim_due
from receiver.store.tables import metadata

from .postgres import throwaway_postgres_database

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_engine(request, tmp_path):
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
        yield engine
        engine.dispose()
        return
    with throwaway_postgres_database() as url:
        engine = make_engine(normalize_database_url(url))
        yield engine
        engine.dispose()


def declared(thing, name, kind, reflected, compare_to) -> bool:
    """Whether Alembic compares `thing`: indexes on expressions are the migration's alone."""
    return not (kind == "index" and name and name.startswith(contacts.INDEX_PREFIX))


def differences(engine):
    with engine.connect() as conn, warnings.catch_warnings():
        # SQLite's reflection warns of each index on an expression, which it cannot read.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
        context = MigrationContext.configure(conn, opts={"include_object": declared})
        return compare_metadata(context, metadata)


def test_fresh_database_matches_the_tables(empty_engine):
    schema.upgrade(empty_engine)
    assert schema.current_revision(empty_engine) == schema.head_revision()
    assert differences(empty_engine) == []


def test_upgrade_from_the_first_schema_keeps_data_and_claims_work(empty_engine):
    schema.upgrade(empty_engine, "0001")
    payload = json.dumps({"id": "evt_1", "kind": "message.visitor"})
    with empty_engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO events (id, dedup_key, kind, conversation_id, test, received_at, payload)"
            " VALUES ('evt_1', 'k1', 'message.visitor', 'room', false, :now, :payload)"),
            {"now": NOW, "payload": payload})
        conn.execute(text(
            "INSERT INTO deliveries (event_seq, adapter, conversation_id, state, attempts, due_at,"
            " retries_since, created_at) VALUES (1, 'http', 'room', 'pending', 0, :now, :now, :now)"),
            {"now": NOW})
    schema.upgrade(empty_engine)
    assert differences(empty_engine) == []
    (held,) = claim_due(empty_engine, ["http"], "w", NOW, 30)
    assert held.event_id == "evt_1" and held.event["kind"] == "message.visitor"


def test_downgrade_and_upgrade_again(empty_engine):
    schema.upgrade(empty_engine)
    schema.downgrade(empty_engine, "0001")
    assert schema.current_revision(empty_engine) == "0001"
    schema.upgrade(empty_engine)
    assert differences(empty_engine) == []


def test_an_installation_without_migration_scripts_says_so(runner, monkeypatch):
    """Alembic alone would report success and create nothing; every request would then fail."""
    monkeypatch.setattr(schema, "head_revision", lambda: None)
    result = runner.invoke(cli.main, ["db", "upgrade"])
    assert result.exit_code == 1
    assert "holds no migration scripts" in result.output
    assert "Traceback" not in result.output


def contact_index_definitions(conn, expressions: dict[str, str]) -> dict[str, str]:
    """How the database itself writes each contact index, and an index on each live expression.

    On PostgreSQL both are written by `pg_get_indexdef`, which normalizes the expression;
    the live ones are built in a transaction that is rolled back.
    """
    if conn.dialect.name == "sqlite":
        rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                 "AND name LIKE 'ix_events_contact_%'"))
        return {name: sql for name, sql in rows}
    found = {}
    for name, expression in expressions.items():
        conn.execute(text(f"CREATE INDEX live_{name} ON events ({expression}) "
                          f"WHERE {contacts.INDEXED}"))
        found[name] = conn.execute(text("SELECT pg_get_indexdef(CAST(:name AS regclass))"),
                                   {"name": f"live_{name}"}).scalar_one()
    return found


def test_the_migrated_contact_indexes_are_those_the_console_queries(empty_engine):
    schema.upgrade(empty_engine)
    dialect = empty_engine.dialect.name
    live = {contacts.index_name(dialect, field): contacts.expression(dialect, field)
            for field in contacts.FIELDS}
    with empty_engine.connect() as conn:
        if dialect == "sqlite":
            migrated = contact_index_definitions(conn, live)
            assert set(migrated) == set(live)
            for name, expression in live.items():
                assert f"({expression}) WHERE {contacts.INDEXED}" in migrated[name]
            return
        migrated = {name: conn.execute(text("SELECT pg_get_indexdef(CAST(:name AS regclass))"),
                                       {"name": name}).scalar_one() for name in live}
        built = contact_index_definitions(conn, live)
        conn.rollback()
    assert {name: definition.replace(f"live_{name}", name) for name, definition in built.items()} \
        == migrated
