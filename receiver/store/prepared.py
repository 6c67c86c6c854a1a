"""Runs a fixed Core statement as driver SQL: compiled once per dialect, not per execution.

`Connection.execute` rebuilds a cache key and the parameter set of a compiled statement
on every call, about 0.1 ms for the webhook's insert. A statement run thousands of times a
second with the same shape skips that: its SQL, parameter order, constants and the column
types' conversions are taken from one compilation, and each execution only converts values
and passes them to a DBAPI cursor.
"""

from dataclasses import dataclass
from typing import Callable

# Keyed by name and dialect name, not instance: every engine of a database kind shares them.
_compiled: dict[tuple[str, str], "Prepared"] = {}


@dataclass(frozen=True)
class Prepared:
    """A statement compiled for one dialect, ready to run with plain values."""

    sql: str
    order: tuple[str, ...] | None  # parameter names in order, for positional drivers
    constants: dict
    conversions: dict[str, Callable]

    @classmethod
    def compile(cls, statement, dialect) -> "Prepared":
        compiled = statement.compile(dialect=dialect)
        required = {name for name, bind in compiled.binds.items() if bind.required}
        # Every parameter the SQL names, with the values of those the statement fixes.
        defaults = compiled.construct_params(dict.fromkeys(required))
        constants = {name: value for name, value in defaults.items() if name not in required}
        conversions = {}
        for name in defaults:
            convert = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            if convert is not None:
                conversions[name] = convert
        order = tuple(compiled.positiontup) if compiled.positional else None
        return cls(compiled.string, order, constants, conversions)

    @classmethod
    def once(cls, name: str, build: Callable[[str], object], dialect) -> "Prepared":
        """`build(dialect name)` compiled for `dialect`, once per process and `name`."""
        key = (name, dialect.name)
        prepared = _compiled.get(key)
        if prepared is None:
            prepared = _compiled[key] = cls.compile(build(dialect.name), dialect)
        return prepared

    def parameters(self, values: dict):
        """The driver's parameters for `values`, by name, with constants and conversions applied."""
        merged = {**self.constants, **values}
        for name, convert in self.conversions.items():
            merged[name] = convert(merged[name])
        if self.order is None:
            return merged
        return tuple(merged[name] for name in self.order)

    def run(self, cursor, values: dict):
        """Run once with `values` on a DBAPI cursor; the cursor, holding any rows returned."""
        cursor.execute(self.sql, self.parameters(values))
        return cursor

    def run_many(self, cursor, rows: list[dict]) -> None:
        """Run once per row in one driver call."""
        cursor.executemany(self.sql, [self.parameters(row) for row in rows])
