"""What the store holds, read back for a test's assertions."""

from sqlalchemy import text

from receiver.store import deliveries


def count(engine, table: str) -> int:
    """How many rows `table` holds."""
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def delivery_states(engine) -> dict:
    """Each delivery's state, by its event's id."""
    with engine.connect() as conn:
        return {row.event_id: row.state
                for row in deliveries.list_deliveries(conn, limit=10_000)}


def every_delivery_state(engine) -> list[str]:
    """The state of every delivery, one per event and adapter (`delivery_states` keeps one
    per event)."""
    with engine.connect() as conn:
        return [row.state for row in deliveries.list_deliveries(conn, limit=10_000)]


def only_delivery(engine):
    """The one delivery stored, for tests that post a single event."""
    with engine.connect() as conn:
        (row,) = deliveries.list_deliveries(conn)
    return row


def leased_deliveries(engine) -> list:
    """The deliveries some worker holds a claim on."""
    with engine.connect() as conn:
        return [row for row in deliveries.list_deliveries(conn, limit=10_000) if row.lease_owner]
