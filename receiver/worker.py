"""The delivery worker: claim due deliveries, hand each to its adapter, record the outcome."""

import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timezone

from .adapters import deadline
from .adapters.base import Delivered, Failed, RetryLater
from .circuits import Circuits
from .claims import Claims
from .logs import fields
from .metrics import DELIVERIES
from .raised import RaisedPolicy
from .retry import RetryPolicy
from .store import attempts, deliveries, links
from .store.transactions import StoreUnavailable, driver_cursor, driver_transaction, transaction
from .store.upgrade_needed import UpgradeNotice

log = logging.getLogger(__name__)

IDLE_MIN_SECONDS = 0.05
IDLE_MAX_SECONDS = 2.0
RECORD_TRIES = 5
OUTCOME_NAMES = {Delivered: "delivered", RetryLater: "retry", Failed: "failed"}
# A retry is worth a look when it repeats; a dead letter needs someone to act.
OUTCOME_LEVELS = {Delivered: logging.INFO, RetryLater: logging.WARNING, Failed: logging.ERROR}


def headline(outcome) -> str | None:
    """The reason's head ("HTTP 422"); the rest may quote a CRM's body, which can hold personal data.

    The full reason is kept in the database, for `receiver deliveries show`.
    """
    reason = getattr(outcome, "reason", None)
    return reason.split(": ", 1)[0] if reason else None


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def worker_name() -> str:
    """Unique per process, readable in `receiver deliveries list`."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Delivers pending events to the loaded adapters, one delivery at a time, in due order."""

    def __init__(self, engine, adapters: dict, *, lease_seconds: float,
                 policy: RetryPolicy | None = None, raised: RaisedPolicy | None = None,
                 name: str | None = None):
        self.engine = engine
        self.adapters = adapters
        self.policy = policy or RetryPolicy()
        self.raised = raised or RaisedPolicy()
        self.attempt_seconds = deadline.attempt_seconds(lease_seconds)
        self.name = name or worker_name()
        self.upgrade_notice = UpgradeNotice()
        self.claims = Claims(engine, adapters, self.name, lease_seconds)
        self.circuits = Circuits(engine, self.name, lease_seconds)

    def step(self) -> bool:
        """Deliver one due delivery; False when none is due."""
        claim = self.circuits.probe(utcnow()) or self.claims.next(utcnow())
        if claim is None:
            return False
        attempted_at = utcnow()
        started = time.monotonic()
        outcome = self.attempt(claim)
        self.record(claim, outcome, attempted_at)
        if self.circuits.observe(claim, outcome, utcnow()):
            self.claims.give_back()  # the paused adapter's claims in hand spend no attempt
        duration = time.monotonic() - started
        self.claims.pace.add(duration)
        name = OUTCOME_NAMES[type(outcome)]
        DELIVERIES.labels(claim.adapter, name).inc()
        conversation = claim.event.get("conversation") or {}
        log.log(OUTCOME_LEVELS[type(outcome)], "delivery", extra=fields(
            delivery_id=claim.id, event_id=claim.event_id, conversation_id=conversation.get("id"),
            adapter=claim.adapter, outcome=name, attempt=claim.attempts,
            duration_ms=round(duration * 1000, 2), reason=headline(outcome)))
        return True

    def attempt(self, claim: deliveries.Claim):
        """The adapter's outcome; what an exception it raised means is the RaisedPolicy's call.

        The attempt's HTTP calls end by one deadline under half the lease, so no other worker
        takes the delivery over while it is still in flight.
        """
        try:
            with deadline.within(self.attempt_seconds):
                return self.adapters[claim.adapter].deliver(claim.event)
        except Exception as error:  # adapters are plugins; a bug must not stop the worker
            log.exception("adapter %s raised on %s", claim.adapter, claim.event_id)
            return self.raised.outcome(error, claim.last_error)

    def record(self, claim: deliveries.Claim, outcome, attempted_at: datetime) -> None:
        """Store the outcome, retrying briefly if the database is unavailable."""
        for attempt in range(1, RECORD_TRIES + 1):
            try:
                if not self.store(claim, outcome, attempted_at):
                    log.warning("lease on delivery %s was taken over; outcome dropped",
                                claim.id)
                return
            except StoreUnavailable as error:
                log.warning("cannot record delivery %s (try %d): %s", claim.id, attempt, error)
                time.sleep(min(2 ** attempt * 0.1, 2.0))
        # The lease will expire and another attempt deliver again: adapters are idempotent.
        log.error("gave up recording delivery %s; it will be retried after its lease", claim.id)

    def store(self, claim: deliveries.Claim, outcome, attempted_at: datetime) -> bool:
        """Write the outcome and any record ids it reported; False if the lease was lost."""
        references = getattr(outcome, "references", None)
        conversation_id = (claim.event.get("conversation") or {}).get("id")
        if not (references and conversation_id):
            # On the driver's own connection: this runs for every delivery. On PostgreSQL the
            # outcome and then the attempt each commit on their own, without BEGIN and COMMIT
            # round trips; an attempt lost between them only leaves the console's history short.
            with driver_transaction(self.engine, one_statement=True) as cursor:
                return self.apply(cursor, claim, outcome, attempted_at) and \
                    self.note(cursor, claim, outcome, attempted_at)
        # Record ids are written with the outcome, so they need a real transaction.
        with transaction(self.engine) as conn:
            with driver_cursor(conn) as cursor:
                finished = self.apply(cursor, claim, outcome, attempted_at) and \
                    self.note(cursor, claim, outcome, attempted_at)
            if finished:
                links.remember(conn, conversation_id, claim.adapter, references, utcnow())
            return finished

    def note(self, cursor, claim: deliveries.Claim, outcome, attempted_at: datetime) -> bool:
        """Add the attempt to the delivery's history, for the console, beside its outcome."""
        attempts.record(cursor, self.engine.dialect, claim.id, claim.attempts, attempted_at,
                        OUTCOME_NAMES[type(outcome)], getattr(outcome, "reason", None))
        return True

    def apply(self, cursor, claim: deliveries.Claim, outcome, attempted_at: datetime) -> bool:
        """Finish the delivery, or set its next try, as `outcome` says."""
        now, dialect = utcnow(), self.engine.dialect
        if isinstance(outcome, Delivered):
            return deliveries.mark_delivered(cursor, dialect, claim, self.name, now,
                                             attempted_at=attempted_at)
        if isinstance(outcome, Failed):
            return deliveries.mark_dead(cursor, dialect, claim, self.name, now, outcome.reason,
                                        attempted_at=attempted_at)
        due = self.policy.next_due(claim.attempts, now, claim.retries_since, outcome.delay)
        if due is None:
            reason = f"{outcome.reason} (gave up after {claim.attempts} attempts)"
            return deliveries.mark_dead(cursor, dialect, claim, self.name, now, reason,
                                        attempted_at=attempted_at)
        return deliveries.mark_retry(cursor, dialect, claim, self.name, due, outcome.reason,
                                     attempted_at=attempted_at)

    def run(self, stop: threading.Event) -> None:
        """Deliver until `stop` is set; the delivery in hand is always finished first."""
        idle = IDLE_MIN_SECONDS
        if self.adapters:
            log.info("worker %s delivering to %s", self.name, ", ".join(self.adapters))
        else:
            log.warning("worker %s has no adapter to deliver to: events are stored, and wait "
                        "until RECEIVER_ADAPTERS names one", self.name)
        while not stop.is_set():
            try:
                worked = self.step()
            except Exception as error:  # the database may be down for a while: wait, retry
                if not self.upgrade_notice.explain(self.engine, error):
                    log.error("worker step failed: %s", error)
                worked = False
                idle = IDLE_MAX_SECONDS
            if worked:
                idle = IDLE_MIN_SECONDS
                continue
            # Poll less often while idle; a stop request still wakes the wait at once.
            stop.wait(idle)
            idle = min(idle * 2, IDLE_MAX_SECONDS)
        self.claims.give_back()
        for adapter in self.adapters.values():
            adapter.close()
        log.info("worker %s stopped", self.name)


def build_worker(settings, engine) -> Worker:
    """A worker for the configured adapters; broken ones are reported and left out."""
    from .adapters import registry

    adapters, broken = registry.build(settings.adapters, settings)
    for name, error in broken.items():
        log.error("adapter %s is broken; its deliveries wait until it loads: %s", name, error)
    policy = RetryPolicy(horizon=settings.retry_horizon_seconds)
    return Worker(engine, adapters, lease_seconds=settings.lease_seconds, policy=policy)
