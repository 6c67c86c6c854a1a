"""The claim statement's plan: a walk of the due-order index, never a sort of the backlog."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from receiver.store import deliveries, schema
from receiver.store.db import make_engine, make_worker_engine

from .postgres import throwaway_postgres_database

ADAPTERS = ["http", "log"]


def claim_sql(engine):
    """The claim's SQL text and its parameters, as the engine's driver takes them."""
    compiled = deliveries._claim_statement(engine.dialect.name).compile(dialect=engine.dialect)
    now = datetime.now(timezone.utc)
    state = compiled.construct_expanded_state({
        "adapters": ADAPTERS, "now": now, "batch": 32, "worker": "w",
        "lease_expires_at": now + timedelta(seconds=30)})
    return state.statement, state.positional_parameters if compiled.positional else state.parameters


def test_on_sqlite_a_claim_walks_the_due_order_index(tmp_path):
    engine = make_worker_engine(f"sqlite:///{tmp_path / 'plan.sqlite3'}", 3)
    schema.upgrade(engine)
    sql, params = claim_sql(engine)
    with engine.connect() as conn:
        plan = [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)]
    assert any("candidate USING INDEX ix_deliveries_claim" in step for step in plan), plan
    assert any("deliveries USING INTEGER PRIMARY KEY" in step for step in plan), plan
    # Each candidate's conversation head is the first entry of the order index.
    assert any("earlier USING INDEX ix_deliveries_order" in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan


def plan_nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


@pytest.mark.postgres
def test_on_postgresql_a_claim_walks_the_due_order_index_before_statistics_catch_up(postgres_url):
    """A backlog the planner has no statistics for yet must not turn each claim into a sort.

    That is a new database under its first load, or a burst arriving before autovacuum
    analyzes the table again; with a plain engine this plan sorts the backlog.
    """
    setup = make_engine(postgres_url)
    try:
        with setup.begin() as conn:
            conn.execute(text("TRUNCATE events, deliveries RESTART IDENTITY CASCADE"))
            conn.execute(text("ALTER TABLE deliveries SET (autovacuum_enabled = false)"))
            conn.execute(text(
                "INSERT INTO events (id, dedup_key, kind, conversation_id, test, received_at, payload)"
                " SELECT 'evt_' || n, md5(n::text), 'message.visitor', 'room' || n % 300, false,"
                " now(), '{}' FROM generate_series(1, 3000) AS n"))
            conn.execute(text(
                "INSERT INTO deliveries (event_seq, adapter, conversation_id, state, attempts,"
                " due_at, retries_since, created_at)"
                " SELECT seq, 'http', conversation_id, 'pending', 1, now(), now(), now() FROM events"))
        with setup.begin() as conn:  # autovacuum is off: no statistics are ever taken
            # A first backlog drained (claimed, then finished), then a second one arrives.
            for change in ("attempts = 1", "state = 'delivered'", "state = 'pending'"):
                conn.execute(text(f"UPDATE deliveries SET {change}"))

        engine = make_worker_engine(postgres_url, 3)
        sql, params = claim_sql(engine)
        with engine.connect() as conn:
            (plan,) = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}", params).scalar()
        engine.dispose()
        nodes = list(plan_nodes(plan["Plan"]))
        scans = {node.get("Alias"): node.get("Index Name") for node in nodes
                 if node["Node Type"].endswith("Scan") and "Alias" in node}
        # The batch is found off the due-order index, then each claimed row by its key.
        assert scans["candidate"] == "ix_deliveries_claim", plan
        assert scans["deliveries"] == "pk_deliveries", plan
        assert scans["earlier"] == "ix_deliveries_order", plan
        assert not any(node["Node Type"] == "Sort" for node in nodes), plan
    finally:
        with setup.begin() as conn:
            conn.execute(text("ALTER TABLE deliveries RESET (autovacuum_enabled)"))
        setup.dispose()


@pytest.mark.postgres
def test_on_a_new_postgresql_database_each_head_is_one_probe_of_the_order_index():
    """A first backlog on a database never analyzed: each candidate's conversation head must
    be read off `ix_deliveries_order`, not found among every pending row of its adapter
    (one claim of 750 pending deliveries took 90 ms instead of 6)."""
    with throwaway_postgres_database() as url:
        setup = make_engine(url)
        schema.upgrade(setup)
        with setup.begin() as conn:
            conn.execute(text(
                "INSERT INTO events (id, dedup_key, kind, conversation_id, test, received_at,"
                " payload) SELECT 'evt_' || n, md5(n::text), 'message.visitor',"
                " 'room' || (n - 1) / 5, false, now(), '{}' FROM generate_series(1, 750) AS n"))
            conn.execute(text(
                "INSERT INTO deliveries (event_seq, adapter, conversation_id, state, attempts,"
                " due_at, retries_since, created_at)"
                " SELECT seq, 'http', conversation_id, 'pending', 0, now(), now(), now()"
                " FROM events"))
        setup.dispose()
        engine = make_worker_engine(url, 3)
        sql, params = claim_sql(engine)
        with engine.connect() as conn:
            (plan,) = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}", params).scalar()
        engine.dispose()
    scans = {node.get("Alias"): node.get("Index Name") for node in plan_nodes(plan["Plan"])
             if node["Node Type"].endswith("Scan") and "Alias" in node}
    assert scans["earlier"] == "ix_deliveries_order", plan


@pytest.mark.postgres
def test_only_worker_sessions_plan_every_statement_afresh(postgres_url):
    """A claim needs a plan for its own `now`; a web insert keeps its plan once prepared."""
    for engine, expected in ((make_worker_engine(postgres_url, 3), "force_custom_plan"),
                             (make_engine(postgres_url), "auto")):
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW plan_cache_mode").scalar() == expected
        engine.dispose()
