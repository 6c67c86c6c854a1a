"""Each adapter's connection check, run at most once a minute per process and kept meanwhile.

A check calls the CRM; the Adapters page shows the last result rather than calling it on
every view, so no number of page loads turns into calls to the CRM.
"""

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import current_app

from ..health import check_adapters

EXTENSION = "receiver.console.checks"


@dataclass(frozen=True)
class Check:
    """What an adapter's check answered, and when."""

    result: str
    checked_at: datetime

    @property
    def ok(self) -> bool:
        return self.result.startswith("ok")


class CheckCache:
    """The last checks of all adapters, run again once `max_age` seconds old."""

    def __init__(self, run=check_adapters, max_age: float = 60.0, clock=time.monotonic):
        self.run, self.max_age, self.clock = run, max_age, clock
        self.checks: dict[str, Check] = {}
        self.ran_at: float | None = None
        self.lock = threading.Lock()

    def current(self, refresh: bool = False) -> dict[str, Check]:
        """The cached checks; run first if stale or `refresh` (the Check now button)."""
        with self.lock:
            stale = self.ran_at is None or self.clock() - self.ran_at >= self.max_age
            if refresh or stale:
                now = datetime.now(timezone.utc)
                self.checks = {name: Check(result, now) for name, result in self.run().items()}
                self.ran_at = self.clock()
            return self.checks


def init_app(app) -> None:
    app.extensions[EXTENSION] = CheckCache()


def cached(refresh: bool = False) -> dict[str, Check]:
    """The current app's adapter checks."""
    return current_app.extensions[EXTENSION].current(refresh)
