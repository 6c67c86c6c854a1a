"""One count and one log line per webhook request, from the record its view and handlers fill."""

import logging
import time
from dataclasses import dataclass, field

from flask import g, request

from .counters import EVENTS, LATENCY, type_label
from .logs import fields

log = logging.getLogger("receiver.requests")

# What refused a request, by status; accepted ones say `accepted` or `duplicate` themselves.
OUTCOMES = {401: "unauthorized", 400: "bad_body", 413: "too_large", 422: "quarantined",
            503: "unavailable"}


@dataclass
class Observation:
    """What one webhook request turned out to be: what metrics count and the log line says."""

    started: float = field(default_factory=time.perf_counter)
    event_type: str | None = None
    outcome: str | None = None  # set when the request was accepted; else told by the status
    event_id: str | None = None
    conversation_id: str | None = None
    quarantine_id: int | None = None
    reason: str | None = None

    def outcome_of(self, status: int) -> str:
        """How the request ended, given the status it was answered with."""
        return self.outcome or OUTCOMES.get(status, str(status))


def current() -> Observation:
    """The current webhook request's record."""
    return g.observation


def start() -> None:
    """Open the request's record, and with it its clock."""
    g.observation = Observation()


def finish(response):
    """Count, time and log the request once its answer is known."""
    record = current()
    seconds = time.perf_counter() - record.started
    outcome = record.outcome_of(response.status_code)
    LATENCY.observe(seconds)
    EVENTS.labels(type_label(record.event_type), outcome).inc()
    log.info("webhook", extra=fields(
        status=response.status_code, outcome=outcome, type=record.event_type,
        event_id=record.event_id, conversation_id=record.conversation_id,
        quarantine_id=record.quarantine_id, reason=record.reason, bytes=request.content_length,
        duration_ms=round(seconds * 1000, 2),
    ))
    return response


def watch(blueprint) -> None:
    """Observe every request `blueprint` answers."""
    blueprint.before_request(start)
    blueprint.after_request(finish)
