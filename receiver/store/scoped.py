"""Deletes rows of a table keyed by (scope, key) from a list of such pairs."""


def delete_pairs(conn, table, key, pairs, *conditions) -> int:
    """Delete the rows of `pairs` (scope, value of the `key` column) that still meet
    `conditions`; how many went.

    One statement per scope (an adapter and module: a handful), each a walk of the primary
    key; a list of (scope, key) pairs scans the whole table on SQLite.
    """
    by_scope: dict[str, list[str]] = {}
    for scope, value in pairs:
        by_scope.setdefault(scope, []).append(value)
    return sum(conn.execute(table.delete().where(
        table.c.scope == scope, key.in_(values), *conditions)).rowcount
        for scope, values in by_scope.items())
