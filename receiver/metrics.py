"""The /metrics endpoint: per-process counters (counters.py) and backlog gauges read from the store.

Counters live in each process; under gunicorn, set PROMETHEUS_MULTIPROC_DIR (to an empty
folder) so /metrics sums every worker's. Backlog figures are read from the database, so
they are right whichever process answers and however many workers run; each process
reads them at most once every few seconds (backlog.py), so scrapes cannot starve the webhook.
"""

import hmac
import os

from flask import Blueprint, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from .backlog import Backlog
from .state import current

bp = Blueprint("metrics", __name__)


class StoreCollector:
    """The backlog gauges, and whether the store answered when they were read."""

    def __init__(self, engine, backlog: Backlog):
        self.engine, self.backlog = engine, backlog

    def collect(self):
        families = self.backlog.families(self.engine)
        yield GaugeMetricFamily("receiver_store_up", "1 when the store answered the last read",
                                value=1 if families else 0)
        yield from families


class ProcessCounters:
    """This process's own counters, when not in multiprocess mode."""

    def collect(self):
        yield from REGISTRY.collect()


def scrape(engine, backlog: Backlog) -> bytes:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(ProcessCounters())
    registry.register(StoreCollector(engine, backlog))
    return generate_latest(registry)


def holds_token() -> bool:
    """Whether the request carries RECEIVER_METRICS_TOKEN as its bearer token (never, if unset)."""
    token = current().settings.metrics_token
    presented = request.headers.get("Authorization", "").removeprefix("Bearer ").encode()
    return bool(token) and hmac.compare_digest(presented, token.encode())


@bp.get("/metrics")
def metrics():
    """Prometheus text, for scrapers presenting RECEIVER_METRICS_TOKEN as a bearer token."""
    receiver = current()
    if not receiver.settings.metrics_token:
        return Response("metrics are off until RECEIVER_METRICS_TOKEN is set\n", status=404,
                        mimetype="text/plain")
    if not holds_token():
        return Response("metrics need the bearer token\n", status=401, mimetype="text/plain")
    return Response(scrape(receiver.engine, receiver.backlog), mimetype=CONTENT_TYPE_LATEST)
