"""The Prometheus counters the web and worker processes add to (multiprocess-safe under gunicorn).

A leaf: the worker counts its deliveries here without importing the web app's blueprints.
"""

from prometheus_client import Counter, Histogram

from .schemas import SCHEMAS

EVENTS = Counter("receiver_events_received", "Webhook requests, by Rocket.Chat type and outcome",
                 ["type", "outcome"])
LATENCY = Histogram("receiver_request_duration_seconds", "Webhook request handling time",
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
DELIVERIES = Counter("receiver_deliveries", "Delivery attempts, by adapter and outcome",
                     ["adapter", "outcome"])
BREAKERS_OPENED = Counter("receiver_breaker_opened", "Adapters paused by the circuit breaker",
                          ["adapter"])


def type_label(source_type: str | None) -> str:
    """The `type` label of a request: Rocket.Chat's type if the receiver knows it, else `unknown`.

    Anyone may send any `type`; one series per made-up type would grow without bound.
    """
    if not source_type:
        return ""
    return source_type if source_type in SCHEMAS else "unknown"
