"""One total deadline per delivery attempt for its HTTP calls, and one cap on their answers.

urllib3's own timeouts restart with each read, so a CRM that trickles its answer a byte at a
time could hold a delivery past its lease. The sockets of deadline_sockets.py keep the
deadline of the innermost `within` block around them, in every send and receive:

    with deadline.within(9.0) as attempt:
        pool.request(...)  # a pool made with deadline_sockets.keeping_deadlines
    attempt.cut_short      # why it ended early, if it did
"""

import contextlib
import contextvars
import time

# Below half the lease: a batch's delivery starts within 0.2 s of its claim, and the outcome
# must be recorded before the lease lets another worker deliver the same event.
SHARE_OF_LEASE = 0.45
# All the answers of one attempt together: HubSpot's and Zoho's pages of notes run to a few MB.
MAX_ANSWER_BYTES = 32 * 1024 * 1024


def attempt_seconds(lease_seconds: float) -> float:
    """The most one delivery attempt may take with a lease of `lease_seconds`."""
    return lease_seconds * SHARE_OF_LEASE


class AnswerTooLarge(OSError):
    """The attempt's answers ran past MAX_ANSWER_BYTES."""


class Attempt:
    """When the attempt must be over by, what it has received, and why it was cut short."""

    def __init__(self, seconds: float, max_bytes: int | None, outer: "Attempt | None"):
        self.seconds = seconds
        self.ends_at = time.monotonic() + seconds
        if outer is not None and outer.ends_at < self.ends_at:
            self.seconds, self.ends_at = outer.seconds, outer.ends_at
        self.max_bytes = MAX_ANSWER_BYTES if max_bytes is None else max_bytes
        self.outer = outer
        self.received = 0
        self.cut_short: str | None = None  # the reason, once the deadline or the cap is hit

    def remaining(self) -> float:
        return self.ends_at - time.monotonic()

    def chain(self):
        attempt = self
        while attempt is not None:
            yield attempt
            attempt = attempt.outer

    def cut(self, reason: str) -> None:
        for attempt in self.chain():
            attempt.cut_short = attempt.cut_short or reason

    def expire(self) -> TimeoutError:
        self.cut(f"no whole answer within {self.seconds:g} s")
        return TimeoutError(self.cut_short)

    def count(self, size: int) -> None:
        for attempt in self.chain():
            attempt.received += size
            if attempt.received > attempt.max_bytes:
                self.cut(f"answers larger than {attempt.max_bytes} bytes")
                raise AnswerTooLarge(self.cut_short)


_current: contextvars.ContextVar[Attempt | None] = contextvars.ContextVar(
    "receiver_attempt", default=None)


def current() -> Attempt | None:
    """The attempt of the innermost `within` block, if any."""
    return _current.get()


@contextlib.contextmanager
def within(seconds: float, max_bytes: int | None = None):
    """Run the block's HTTP calls under one deadline, `seconds` from now or the enclosing
    block's if that is sooner, and one cap on the bytes they receive (MAX_ANSWER_BYTES)."""
    attempt = Attempt(seconds, max_bytes, _current.get())
    token = _current.set(attempt)
    try:
        yield attempt
    finally:
        _current.reset(token)
