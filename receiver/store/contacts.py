"""The contact fields the console searches events by, as expressions each database indexes."""

from sqlalchemy import literal_column

# Field name -> its path in the normalized payload, and whether case is ignored.
# Lists are searched on their first entry: that is the one Rocket.Chat shows on the room.
FIELDS = {
    "name": (("contact", "name"), True),
    "email": (("contact", "emails", "0"), True),
    "phone": (("contact", "phones", "0"), False),
    "token": (("contact", "token"), False),
}


def _sqlite(path: tuple[str, ...]) -> str:
    steps = "".join(f"[{step}]" if step.isdigit() else f".{step}" for step in path)
    return f"json_extract(payload, '${steps}')"


def _postgresql(path: tuple[str, ...]) -> str:
    return f"{JSON_FIELD}(payload, '{{{','.join(path)}}}')"


# PostgreSQL refuses some text that JSON allows (\u0000 in a value it extracts, lone
# surrogates), which Rocket.Chat may send and the receiver keeps: a bare cast in an index
# expression would make such an event fail to insert. This function gives NULL instead.
# It reads the `json` type, not `jsonb`: one lookup in a large close transcript costs a
# quarter as much (about 3 ms for 0.8 MB, where jsonb took 12).
JSON_FIELD = "receiver_json_field"
JSON_FIELD_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {JSON_FIELD}(document text, path text[]) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    RETURN document::json #>> path;
EXCEPTION WHEN invalid_text_representation OR untranslatable_character THEN
    RETURN NULL;
END $$
"""


# Indexes on expressions are created by the migration, not declared on the table: each
# database has its own expressions, and Alembic cannot compare them across databases.
INDEX_PREFIX = "ix_events_contact_"
# Only events about the conversation as a whole are indexed: each carries the contact, and
# leaving out the messages (most events) spares the webhook most of the indexing work.
# A query must state this condition word for word for SQLite to use the indexes.
INDEXED = "kind NOT IN ('message.visitor', 'message.agent')"

BUILDERS = {"sqlite": _sqlite, "postgresql": _postgresql}


def expression(dialect_name: str, field: str) -> str:
    """The SQL for `field` of an event's contact, exactly as its index is built."""
    path, fold_case = FIELDS[field]
    sql = BUILDERS[dialect_name](path)
    return f"lower({sql})" if fold_case else sql


def column(dialect_name: str, field: str):
    """`expression` as a column to compare in a query, so the database uses the index."""
    return literal_column(expression(dialect_name, field))


def indexed():
    """The condition of the indexes, to add to a query that compares `column`."""
    return literal_column(INDEXED)


def index_name(dialect_name: str, field: str) -> str:
    """The name of `field`'s index on `events` in a `dialect_name` database."""
    return f"{INDEX_PREFIX}{field}_{dialect_name}"


def search_value(field: str, value: str) -> str:
    """What the operator typed, as the index holds it."""
    return value.strip().lower() if FIELDS[field][1] else value.strip()

