"""The Adapters page's connection checks: the ones /readyz keeps (readiness.py).

One set of kept adapters per process serves both, so the console adds no calls to the CRM
(nor Zoho access tokens) beyond the one run a minute, and a *Check now*.
"""

from datetime import datetime

from ..readiness import Check
from ..state import current


def cached(refresh: bool = False) -> dict[str, Check]:
    """The current app's adapter checks; run first if a minute old or `refresh`."""
    return current().adapter_checks.latest(refresh=refresh)


def checked_at() -> datetime | None:
    """When the checks `cached` returns were run."""
    return current().adapter_checks.checked_at
