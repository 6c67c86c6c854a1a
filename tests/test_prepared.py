"""A statement run through Prepared stores exactly what the same statement through Core stores."""

from datetime import datetime, timedelta, timezone

from sqlalchemy import bindparam, insert, literal, select, text

from receiver.store import schema
from receiver.store.db import make_engine
from receiver.store.prepared import Prepared
from receiver.store.tables import PENDING, deliveries, events
from receiver.store.transactions import driver_cursor, transaction

MOMENT = datetime(2026, 11, 21, 23, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
COLUMNS = ("id", "dedup_key", "kind", "conversation_id", "test", "occurred_at", "received_at",
           "payload", "raw")


def event_row(suffix: str) -> dict:
    return {"id": f"evt_{suffix}", "dedup_key": f"key_{suffix}", "kind": "message.visitor",
            "conversation_id": "room1", "test": True, "occurred_at": None,
            "received_at": MOMENT, "payload": "{}", "raw": b"\x00\xffbody"}


def test_constants_order_and_conversions_match_core(database_url):
    engine = make_engine(database_url)
    schema.upgrade(engine)
    statement = insert(events).values({name: bindparam(name, type_=events.c[name].type)
                                       for name in COLUMNS}).returning(events.c.seq)
    # A delivery whose state and attempts are literals the compiled statement carries itself.
    at = bindparam("at", type_=deliveries.c.due_at.type)
    follow = insert(deliveries).from_select(
        ["event_seq", "adapter", "state", "attempts", "due_at", "retries_since", "created_at"],
        select(bindparam("seq", type_=events.c.seq.type),
               bindparam("adapter", type_=deliveries.c.adapter.type),
               literal(PENDING), literal(0), at, at, at))
    with transaction(engine) as conn, driver_cursor(conn) as cursor:
        core_seq = conn.execute(statement, event_row("core")).scalar_one()
        conn.execute(follow, {"seq": core_seq, "adapter": "core", "at": MOMENT})
        prepared = Prepared.compile(statement, conn.dialect)
        (prepared_seq,) = prepared.run(cursor, event_row("prepared")).fetchall()[0]
        Prepared.compile(follow, conn.dialect).run(
            cursor, {"seq": prepared_seq, "adapter": "prepared", "at": MOMENT})
    with transaction(engine) as conn:
        stored = {row[0]: row[1:] for row in conn.execute(text(
            "SELECT id, dedup_key, test, occurred_at, received_at, payload, raw FROM events"))}
        queued = {row[0]: row[1:] for row in conn.execute(text(
            "SELECT adapter, state, attempts, due_at, created_at FROM deliveries"))}
    engine.dispose()
    assert stored["evt_prepared"][1:] == stored["evt_core"][1:]
    assert bytes(stored["evt_prepared"][-1]) == b"\x00\xffbody"
    assert queued["prepared"] == queued["core"]
    assert queued["core"][:2] == (PENDING, 0)
