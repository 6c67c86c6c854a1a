"""Prometheus metrics: per-process counters (multiprocess-safe) and backlog gauges read from the store.

Counters live in each process; under gunicorn, set PROMETHEUS_MULTIPROC_DIR (to an empty
folder) so /metrics sums every worker's. Backlog figures are read from the database, so
they are right whichever process answers and however many workers run; each process
reads them at most once every few seconds (backlog.py), so scrapes cannot starve the webhook.
"""

import hmac
import os

from flask import Blueprint, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from .backlog import Backlog
from .config import EXTENSION as SETTINGS
from .schemas import SCHEMAS
from .store.db import get_engine

EXTENSION = "receiver.backlog"

EVENTS = Counter("receiver_events_received", "Webhook requests, by Rocket.Chat type and outcome",
                 ["type", "outcome"])
LATENCY = Histogram("receiver_request_duration_seconds", "Webhook request handling time",
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
DELIVERIES = Counter("receiver_deliveries", "Delivery attempts, by adapter and outcome",
                     ["adapter", "outcome"])

bp = Blueprint("metrics", __name__)


def type_label(source_type: str | None) -> str:
    """The `type` label of a request: Rocket.Chat's type if the receiver knows it, else `unknown`.

    Anyone may send any `type`; one series per made-up type would grow without bound.
    """
    if not source_type:
        return ""
    return source_type if source_type in SCHEMAS else "unknown"


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
    token = current_app.config.get("RECEIVER_METRICS_TOKEN")
    presented = request.headers.get("Authorization", "").removeprefix("Bearer ").encode()
    return bool(token) and hmac.compare_digest(presented, token.encode())


@bp.get("/metrics")
def metrics():
    """Prometheus text, for scrapers presenting RECEIVER_METRICS_TOKEN as a bearer token."""
    if not current_app.config.get("RECEIVER_METRICS_TOKEN"):
        return Response("metrics are off until RECEIVER_METRICS_TOKEN is set\n", status=404,
                        mimetype="text/plain")
    if not holds_token():
        return Response("metrics need the bearer token\n", status=401, mimetype="text/plain")
    return Response(scrape(get_engine(), current_app.extensions[EXTENSION]),
                    mimetype=CONTENT_TYPE_LATEST)


def init_app(app, token: str | None) -> None:
    """Serve /metrics, and count and time every webhook request."""
    from .webhook import is_webhook_request, request_outcome, request_seconds

    app.config["RECEIVER_METRICS_TOKEN"] = token
    app.extensions[EXTENSION] = Backlog(app.extensions[SETTINGS].adapters)
    app.register_blueprint(bp)

    @app.after_request
    def count_request(response):
        if is_webhook_request():
            LATENCY.observe(request_seconds())
            EVENTS.labels(type_label(g.get("event_type")), request_outcome(response)).inc()
        return response
