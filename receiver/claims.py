"""A worker's claims in hand: batches sized to its recent pace, given back when held too long."""

import logging
from collections import deque
from datetime import datetime, timedelta

from .store import deliveries
from .store.errors import StoreUnavailable
from .store.pauses import PausedSet

log = logging.getLogger(__name__)

# A batch is what the worker expects to deliver in about this long at its recent pace: a
# fast CRM shares one claim among many deliveries, a slow one is claimed one at a time, so
# no conversation waits long behind a batch another worker could have taken.
BATCH_SECONDS = 0.05
MAX_BATCH = 32


class Pace:
    """Seconds per delivery, smoothed over the last dozen or so."""

    WEIGHT = 0.2

    def __init__(self):
        self.seconds: float | None = None

    def add(self, seconds: float) -> None:
        if self.seconds is None:
            self.seconds = seconds
        else:
            self.seconds += self.WEIGHT * (seconds - self.seconds)

    def batch(self) -> int:
        """How many deliveries fit in BATCH_SECONDS; one until the pace is known."""
        if self.seconds is None:
            return 1
        return max(1, min(MAX_BATCH, int(BATCH_SECONDS / max(self.seconds, 1e-6))))


class HeldClaims:
    """The deliveries one worker has claimed and not yet attempted, in due order."""

    def __init__(self, engine, adapters, worker: str, lease_seconds: float):
        self.engine = engine
        self.adapters = adapters
        self.worker = worker
        self.lease_seconds = lease_seconds
        self.pace = Pace()
        self.paused = PausedSet(engine)
        self.batch: deque[deliveries.Claim] = deque()
        self.give_back_at: datetime | None = None  # set with each batch

    def next(self, now: datetime) -> deliveries.Claim | None:
        """The next claim of the batch in hand, or of a new batch when that one is done."""
        if self.batch and now >= self.give_back_at:
            self.give_back()
        if not self.batch:
            # A paused adapter's deliveries are not claimed, so they are neither attempted
            # nor counted until it is resumed.
            paused = self.paused.current()
            adapters = [name for name in self.adapters if name not in paused]
            self.batch.extend(deliveries.claim_due(self.engine, adapters, self.worker, now,
                                                   self.lease_seconds, self.size(adapters)))
            # A batch held four times as long as planned (a CRM that slowed down) is given
            # back for whichever worker comes next, and never kept past half its lease:
            # an attempt itself ends by 45 % of it (adapters/deadline.py).
            self.give_back_at = now + min(timedelta(seconds=4 * BATCH_SECONDS),
                                          timedelta(seconds=self.lease_seconds / 2))
        return self.batch.popleft() if self.batch else None

    def size(self, adapters: list[str]) -> int:
        """How many deliveries to claim: what the recent pace delivers in BATCH_SECONDS one
        after another, or, when every adapter takes deliveries in batches, a whole batch.

        A batch's deliveries are attempted together, in one step, so none waits behind
        another in hand; a smaller claim would only split a backlog into more calls (and
        more steps) than the adapter's batch calls need.
        """
        sizes = [getattr(self.adapters[name], "batch_size", 1) for name in adapters]
        if sizes and min(sizes) > 1:
            return max(sizes)
        return self.pace.batch()

    def take(self, wanted) -> list[deliveries.Claim]:
        """The claims in hand that `wanted(claim)` accepts, in due order; the rest stay in hand.

        For an adapter that takes several deliveries at once (worker.py): each claim is the
        head of its conversation, so the ones taken never hold two of one conversation.
        """
        taken, kept = [], deque()
        for claim in self.batch:
            (taken if wanted(claim) else kept).append(claim)
        self.batch = kept
        return taken

    def give_back(self) -> None:
        """Release the claims not attempted yet, so no other worker waits out their lease."""
        held, self.batch = list(self.batch), deque()
        if not held:
            return
        try:
            deliveries.release(self.engine, held, self.worker)
        except StoreUnavailable as error:
            log.warning("could not give back %d claimed deliveries; they are free again when "
                        "their lease ends: %s", len(held), error)
