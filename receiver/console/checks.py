"""The Adapters page's connection checks: the ones /readyz keeps (readiness.py).

One set of kept adapters per process serves both, so the console adds no calls to the CRM
(nor Zoho access tokens) beyond the one run a minute, and a *Check now*.
"""

from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from ..health import EXTENSION as ADAPTER_CHECKS


@dataclass(frozen=True)
class Check:
    """What an adapter's check answered, and when."""

    result: str
    checked_at: datetime | None

    @property
    def ok(self) -> bool:
        return self.result.startswith("ok")


def cached(refresh: bool = False) -> dict[str, Check]:
    """The current app's adapter checks; run first if a minute old or `refresh`."""
    kept = current_app.extensions[ADAPTER_CHECKS]
    latest = kept.latest(refresh=refresh)
    return {name: Check(check.detail, kept.checked_at) for name, check in latest.items()}
