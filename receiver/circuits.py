"""A worker's circuit breakers: count each adapter's failures, pause it, probe it, resume it."""

import logging
import time
from datetime import datetime

from .breaker import DOWN, UP, BreakerRule, batch_verdict
from .counters import BREAKERS_OPENED
from .store import breakers
from .store.errors import StoreUnavailable

log = logging.getLogger(__name__)


class Circuits:
    """The breaker of each adapter as one worker sees it.

    Failures in a row are counted per process (no store write per delivery); opening,
    probing and closing go through the store, so every worker honours them.
    """

    def __init__(self, engine, worker: str, lease_seconds: float,
                 rule: BreakerRule | None = None, every: float = 5.0, clock=time.monotonic):
        self.engine, self.worker, self.lease_seconds = engine, worker, lease_seconds
        self.rule = rule or BreakerRule()
        self.every, self.clock = every, clock
        self.failures: dict[str, int] = {}
        self.probes: dict[int, str] = {}  # delivery id -> adapter, for the probe in hand
        self.looked_at: float | None = None

    def probe(self, now: datetime):
        """A delivery of an adapter whose probe is due, claimed for this worker, or None."""
        if self.looked_at is not None and self.clock() - self.looked_at < self.every:
            return None
        self.looked_at = self.clock()
        try:
            for adapter in breakers.due_now(self.engine, now):
                claim = self.claim_probe(adapter, now)
                if claim is not None:
                    return claim
        except StoreUnavailable:
            pass  # the worker's own claim reports the outage
        return None

    def claim_probe(self, adapter: str, now: datetime):
        claim, closed = breakers.claim_probe(self.engine, adapter, self.worker, now,
                                             self.lease_seconds)
        if closed:
            log.info("breaker of %s closed: nothing left to deliver", adapter)
        if claim is None:
            return None
        self.probes[claim.id] = adapter
        log.info("breaker of %s probes with delivery %s", adapter, claim.id)
        return claim

    def observe(self, claims, outcomes, now: datetime) -> bool:
        """Count one attempt: the outcomes of the claims one adapter was handed together (a
        batch is one CRM call); True when it opened the adapter's breaker."""
        seen, adapter = batch_verdict(outcomes), claims[0].adapter
        if self.probes.pop(claims[0].id, None):  # a probe goes alone
            self.probed(adapter, seen, now)
            return False
        failures = self.failures[adapter] = self.rule.failures(
            self.failures.get(adapter, 0), seen)
        if not self.rule.opens(failures):
            return False
        self.failures[adapter] = 0
        return self.open(adapter, outcomes[-1].reason, now)

    def open(self, adapter: str, reason: str, now: datetime) -> bool:
        try:
            opened = breakers.trip(self.engine, adapter, now, self.rule.first_probe, reason)
        except StoreUnavailable as error:
            log.warning("cannot pause failing adapter %s: %s", adapter, error)
            return False
        if opened:
            BREAKERS_OPENED.labels(adapter).inc()
            log.warning("breaker of %s opened after %d failed attempts in a row; it is "
                        "paused and probed in %g s: %s", adapter, self.rule.threshold,
                        self.rule.first_probe, reason.split(": ", 1)[0])
        return opened

    def probed(self, adapter: str, seen: str, now: datetime) -> None:
        """Close the breaker after a probe that reached the CRM; else probe later."""
        try:
            self.settle(adapter, seen, now)
        except StoreUnavailable as error:  # the probe goes again once its lease has passed
            log.warning("cannot record the probe of %s: %s", adapter, error)

    def settle(self, adapter: str, seen: str, now: datetime) -> None:
        if seen not in (UP, DOWN):
            return  # it waited for the rate budget: it goes again once its lease has passed
        wait = breakers.settle_probe(self.engine, adapter, seen == UP, now, self.rule.probe_after)
        if wait is None:
            log.info("breaker of %s closed: its probe reached the CRM", adapter)
        else:
            log.warning("breaker of %s stays open: its probe failed; next probe in %g s",
                        adapter, wait)
