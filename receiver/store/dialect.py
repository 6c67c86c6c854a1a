"""Inserts that settle unique-key conflicts inside the database, on SQLite and PostgreSQL alike."""

from sqlalchemy.dialects import postgresql, sqlite


def insert_for(conn, table):
    """The dialect's INSERT construct, which knows ON CONFLICT."""
    return insert_in(conn.dialect.name, table)


def insert_in(dialect_name: str, table):
    """The INSERT construct of the named dialect."""
    module = postgresql if dialect_name == "postgresql" else sqlite
    return module.insert(table)


def upsert(conn, table, key: dict, values: dict):
    """INSERT the row, or UPDATE `values` on the row that already has `key`."""
    statement = insert_for(conn, table).values(**key, **values)
    return statement.on_conflict_do_update(index_elements=list(key), set_=values)
