"""Inserts that settle unique-key conflicts inside the database, on SQLite and PostgreSQL alike."""

from sqlalchemy.dialects import postgresql, sqlite


def insert_for(conn, table):
    """The dialect's INSERT construct, which knows ON CONFLICT."""
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table)
