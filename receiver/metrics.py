"""Prometheus metrics: per-process counters (multiprocess-safe) and backlog gauges read from the store.

Counters live in each process; under gunicorn, set PROMETHEUS_MULTIPROC_DIR (to an empty
folder) so /metrics sums every worker's. Backlog figures are read from the database at
scrape time, so they are right whichever process answers and however many workers run.
"""

import hmac
import os
from datetime import datetime, timezone

from flask import Blueprint, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select

from .store.db import get_engine
from .store.tables import DEAD, HELD, PENDING, deliveries, quarantine

EVENTS = Counter("receiver_events_received", "Webhook requests, by Rocket.Chat type and outcome",
                 ["type", "outcome"])
LATENCY = Histogram("receiver_request_duration_seconds", "Webhook request handling time",
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
DELIVERIES = Counter("receiver_deliveries", "Delivery attempts, by adapter and outcome",
                     ["adapter", "outcome"])

bp = Blueprint("metrics", __name__)


class StoreCollector:
    """Backlog gauges computed from the shared store at each scrape."""

    def __init__(self, engine):
        self.engine = engine

    def collect(self):
        try:
            families = list(self.backlog())
        except Exception:  # the store is down: say so, and still serve the counters
            families = []
        yield GaugeMetricFamily("receiver_store_up", "1 when the store answered this scrape",
                                value=1 if families else 0)
        yield from families

    def backlog(self):
        now = datetime.now(timezone.utc)
        pending = GaugeMetricFamily("receiver_deliveries_pending", "Deliveries not yet done",
                                    labels=["adapter"])
        oldest = GaugeMetricFamily("receiver_oldest_pending_delivery_age_seconds",
                                   "Age of the oldest pending delivery", labels=["adapter"])
        dead = GaugeMetricFamily("receiver_dead_letters", "Deliveries given up on",
                                 labels=["adapter"])
        with self.engine.connect() as conn:
            for adapter, total, first in conn.execute(
                select(deliveries.c.adapter, func.count(), func.min(deliveries.c.created_at))
                .where(deliveries.c.state == PENDING).group_by(deliveries.c.adapter)
            ):
                pending.add_metric([adapter], total)
                first = first if first.tzinfo else first.replace(tzinfo=timezone.utc)
                oldest.add_metric([adapter], (now - first).total_seconds())
            for adapter, total in conn.execute(
                select(deliveries.c.adapter, func.count())
                .where(deliveries.c.state == DEAD).group_by(deliveries.c.adapter)
            ):
                dead.add_metric([adapter], total)
            held = conn.execute(select(func.count()).where(quarantine.c.state == HELD)).scalar()
        return [pending, oldest, dead,
                GaugeMetricFamily("receiver_quarantine_held", "Bodies held in quarantine",
                                  value=held)]


class ProcessCounters:
    """This process's own counters, when not in multiprocess mode."""

    def collect(self):
        yield from REGISTRY.collect()


def scrape(engine) -> bytes:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(ProcessCounters())
    registry.register(StoreCollector(engine))
    return generate_latest(registry)


@bp.get("/metrics")
def metrics():
    """Prometheus text format; with RECEIVER_METRICS_TOKEN set, a matching bearer token is required."""
    token = current_app.config.get("RECEIVER_METRICS_TOKEN")
    if token:
        presented = request.headers.get("Authorization", "").removeprefix("Bearer ").encode()
        if not hmac.compare_digest(presented, token.encode()):
            return Response("metrics need the bearer token\n", status=401, mimetype="text/plain")
    return Response(scrape(get_engine()), mimetype=CONTENT_TYPE_LATEST)


def init_app(app, token: str | None) -> None:
    """Count and time every webhook request."""
    from .webhook import is_webhook_request, request_outcome, request_seconds

    app.config["RECEIVER_METRICS_TOKEN"] = token
    app.register_blueprint(bp)

    @app.after_request
    def count_request(response):
        if is_webhook_request():
            LATENCY.observe(request_seconds())
            EVENTS.labels(g.get("event_type") or "", request_outcome(response)).inc()
        return response
