"""Tells, once per process, that the database's schema is older than this release needs."""

import logging
import threading

from .schema import current_revision, head_revision

log = logging.getLogger(__name__)
EXTENSION = "receiver.upgrade_notice"


def schema_problem(engine) -> str | None:
    """What is wrong with the schema, in words naming the fix; None when it is current.

    A database that cannot be read at all is not a schema problem: that is said elsewhere.
    """
    try:
        found = current_revision(engine)
    except Exception:  # unreachable or locked: not this check's to report
        return None
    wanted = head_revision()
    if found == wanted:
        return None
    state = "has no schema" if found is None else f"is at schema revision {found}"
    return f"the database {state}; this release needs {wanted}: run `receiver db upgrade`"


class UpgradeNotice:
    """Logs the schema problem the first time a failure is explained by it, not on every retry."""

    def __init__(self):
        self._told = False
        self._lock = threading.Lock()

    def explain(self, engine) -> bool:
        """Log the schema problem once, if there is one; whether there is."""
        problem = schema_problem(engine)
        if problem is None:
            return False
        with self._lock:
            if not self._told:
                log.error(problem)
                self._told = True
        return True


def notice(app) -> UpgradeNotice:
    """The app's one notice, so each web process says it once."""
    return app.extensions.setdefault(EXTENSION, UpgradeNotice())
