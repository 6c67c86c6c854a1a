"""Tells, once per process, that the database's schema is older than this release needs."""

import logging
import threading

from .schema import current_revision, head_revision, knows_revision

log = logging.getLogger(__name__)


def schema_problem(engine) -> str | None:
    """What is wrong with the schema, in words naming the fix; None when it is current.

    A database that cannot be read at all is not a schema problem: that is said elsewhere.
    """
    try:
        found = current_revision(engine)
    except Exception:  # unreachable or locked: not this check's to report
        return None
    return revision_problem(found)


def revision_problem(found: str | None) -> str | None:
    """What is wrong with a database at revision `found`, naming the fix; None when current."""
    wanted = head_revision()
    if found == wanted:
        return None
    if found is not None and not knows_revision(found):
        return (f"the database is at schema revision {found}, newer than this release "
                f"({wanted}): run the release that migrated it")
    state = "has no schema" if found is None else f"is at schema revision {found}"
    return f"the database {state}; this release needs {wanted}: run `receiver db upgrade`"


# How the databases say that a table or column is missing: what an old schema looks like.
MISSING_SCHEMA = ("no such table", "no such column", "does not exist", "UndefinedTable",
                  "UndefinedColumn")


def looks_like_missing_schema(error: BaseException) -> bool:
    """Whether a store failure may be the schema's: only then is it worth checking it.

    A database that is down must not pay a second wait for the check.
    """
    seen, current = set(), error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if any(words in f"{type(current).__name__} {current}" for words in MISSING_SCHEMA):
            return True
        current = current.__cause__ or current.__context__
    return False


class UpgradeNotice:
    """Logs the schema problem the first time a failure is explained by it, not on every retry."""

    def __init__(self):
        self._told = False
        self._lock = threading.Lock()

    def explain(self, engine, error: BaseException) -> bool:
        """Log the schema problem once, if `error` may be it and there is one; whether there is."""
        if not looks_like_missing_schema(error):
            return False
        problem = schema_problem(engine)
        if problem is None:
            return False
        self.tell(problem)
        return True

    def tell(self, problem: str) -> None:
        """Log `problem` unless this process has said it already."""
        with self._lock:
            if not self._told:
                log.error(problem)
                self._told = True
