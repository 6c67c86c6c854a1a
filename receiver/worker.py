"""The delivery worker: claim due deliveries, hand them to their adapter, record each outcome."""

import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime

from . import clock
from .adapters import deadline
from .adapters.base import Delivered, Failed, RetryLater
from .circuits import Circuits
from .claims import HeldClaims
from .counters import DELIVERIES
from .logs import fields
from .raised import RaisedPolicy
from .retry import RetryPolicy
from .store import deliveries, outcomes
from .store.errors import StoreUnavailable
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


def described(done: list) -> str:
    """The deliveries of a step as a log line names them: "delivery 7", "deliveries 7, 8"."""
    ids = ", ".join(str(claim.id) for claim, _ in done)
    return f"{'delivery' if len(done) == 1 else 'deliveries'} {ids}"


def worker_name() -> str:
    """Unique per process, readable in `receiver deliveries list`."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Delivers pending events to the loaded adapters in due order, several at once to an
    adapter that batches."""

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
        self.claims = HeldClaims(engine, adapters, self.name, lease_seconds)
        self.circuits = Circuits(engine, self.name, lease_seconds)

    def step(self) -> bool:
        """Deliver the next due delivery (or an open breaker's probe) and, to each adapter that
        batches, all of its deliveries in hand; False when none is due."""
        batches = self.batches(clock.now())
        if not batches:
            return False
        attempted_at = clock.now()
        started = time.monotonic()
        # One deadline for every batch of the step: the last claim's lease holds as long.
        with deadline.within(self.attempt_seconds):
            outcomes = [self.attempt(claims) for claims in batches]
        done = [(claim, outcome) for claims, answered in zip(batches, outcomes)
                for claim, outcome in zip(claims, answered)]
        self.record(done, attempted_at)
        # Each adapter's attempt counts once, however many deliveries it carried, and every
        # attempt is counted, even after one of them has opened a breaker.
        opened = [self.circuits.observe(claims, answered, clock.now())
                  for claims, answered in zip(batches, outcomes)]
        if any(opened):
            self.claims.give_back()  # the paused adapter's claims in hand spend no attempt
        duration = time.monotonic() - started
        # The pace is per delivery the step could have made: an adapter that batches takes
        # up to its batch size for about the cost of one, so its conversations are claimed
        # many at a time, and no one of them waits behind the others.
        self.claims.pace.add(duration / sum(max(len(claims), self.batch_size(claims[0].adapter))
                                            for claims in batches))
        for claim, outcome in done:
            name = OUTCOME_NAMES[type(outcome)]
            DELIVERIES.labels(claim.adapter, name).inc()
            conversation = claim.event.get("conversation") or {}
            log.log(OUTCOME_LEVELS[type(outcome)], "delivery", extra=fields(
                delivery_id=claim.id, event_id=claim.event_id,
                conversation_id=conversation.get("id"), adapter=claim.adapter, outcome=name,
                attempt=claim.attempts, duration_ms=round(duration * 1000, 2),
                reason=headline(outcome)))
        return True

    def batches(self, now: datetime) -> list[list[deliveries.Claim]]:
        """The next claim in hand, with the other claims in hand of its adapter if it batches,
        and those of every other adapter that batches, each adapter's up to its batch size.

        Each claim is the head of its conversation, so no batch holds two of one; the claims
        left in hand stay in due order for the next steps.
        """
        probe = self.circuits.probe(now)
        if probe is not None:
            return [[probe]]  # a probe goes alone: one delivery tells whether the CRM is back
        first = self.claims.next(now)
        if first is None:
            return []
        batches = {first.adapter: [first]}

        def joins_a_batch(claim) -> bool:
            size = self.batch_size(claim.adapter)
            if size == 1:
                return False
            batch = batches.setdefault(claim.adapter, [])
            if len(batch) < size:
                batch.append(claim)
                return True
            return False

        self.claims.take(joins_a_batch)
        return [batch for batch in batches.values() if batch]

    def batch_size(self, adapter: str) -> int:
        """How many deliveries the adapter takes at once."""
        return getattr(self.adapters[adapter], "batch_size", 1)

    def attempt(self, claims: list[deliveries.Claim]) -> list:
        """The adapter's outcome for each claim; what an exception it raised means is the
        RaisedPolicy's call, for every claim it was handed.

        Called within the step's deadline, under half the lease, so no other worker takes a
        delivery over while it is still in flight.
        """
        adapter = self.adapters[claims[0].adapter]
        try:
            if len(claims) == 1:
                return [adapter.deliver(claims[0].event)]
            outcomes = adapter.deliver_batch([claim.event for claim in claims])
            if len(outcomes) != len(claims):
                raise ValueError(f"deliver_batch answered {len(outcomes)} outcomes for "
                                 f"{len(claims)} events")
            return outcomes
        except Exception as error:  # adapters are plugins; a bug must not stop the worker
            log.exception("adapter %s raised on %s", claims[0].adapter,
                          ", ".join(claim.event_id for claim in claims))
            return [self.raised.outcome(error, claim.last_error) for claim in claims]

    def record(self, done: list[tuple[deliveries.Claim, object]], attempted_at: datetime) -> None:
        """Store the step's outcomes together, retrying briefly if the database is unavailable."""
        for attempt in range(1, RECORD_TRIES + 1):
            try:
                for (claim, _), kept in zip(done, self.store(done, attempted_at)):
                    if not kept:
                        log.warning("lease on delivery %s was taken over; outcome dropped",
                                    claim.id)
                return
            except StoreUnavailable as error:
                log.warning("cannot record %s (try %d): %s", described(done), attempt, error)
                time.sleep(min(2 ** attempt * 0.1, 2.0))
        # The lease will expire and another attempt deliver again: adapters are idempotent.
        log.error("gave up recording %s; retried after the lease", described(done))

    def store(self, done: list[tuple[deliveries.Claim, object]],
              attempted_at: datetime) -> list[bool]:
        """Write the outcomes and any record ids they reported in one transaction; for each,
        False if its lease was lost."""
        now = clock.now()
        return outcomes.finish_all(self.engine, [
            (claim, self.stored(claim, outcome, attempted_at, now)) for claim, outcome in done],
            self.name, now)

    def stored(self, claim: deliveries.Claim, outcome, attempted_at: datetime,
               now: datetime) -> outcomes.Outcome:
        """The outcome as the store records it, with a retry's next try as the policy sets it."""
        due = None
        if isinstance(outcome, RetryLater):
            due = self.policy.next_due(claim.attempts, now, claim.retries_since, outcome.delay)
        return outcomes.Outcome(OUTCOME_NAMES[type(outcome)], attempted_at,
                                reason=getattr(outcome, "reason", None), due_at=due,
                                references=getattr(outcome, "references", None))

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
                    # An unavailable store is expected and its one line says it all; anything
                    # else is a bug, and its traceback says where.
                    log.error("worker step failed: %s", error,
                              exc_info=not isinstance(error, StoreUnavailable))
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
