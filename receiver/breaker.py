"""When an adapter is failing for everything: the circuit breaker's rule, without state."""

import re
from dataclasses import dataclass

from .adapters.base import Delivered, Failed
from .adapters.ratelimit import WAIT_REASON

UP, DOWN, UNTRIED = "up", "down", "untried"
# What an adapter reports when the CRM cannot be reached or answers 5xx (adapters/api.py)...
UNREACHABLE = re.compile(
    r"HTTP 5\d\d\b|cannot reach|did not answer|no answer from|took longer than")
# ...and when it refuses the credentials: no delivery can succeed until someone acts.
REFUSED = re.compile(r"HTTP 40[13]\b|refused the OAuth client|refused RECEIVER_")


def verdict(outcome) -> str:
    """DOWN when the outcome shows the CRM unreachable or the credentials refused, UNTRIED
    when the delivery did not reach the CRM, else UP (it answered, even if it said no)."""
    if isinstance(outcome, Delivered):
        return UP
    reason = outcome.reason or ""
    if WAIT_REASON in reason:  # it waited for the rate budget: it never reached the CRM
        return UNTRIED
    if REFUSED.search(reason) or (not isinstance(outcome, Failed) and UNREACHABLE.search(reason)):
        return DOWN
    return UP


def batch_verdict(outcomes) -> str:
    """One attempt's verdict over the outcomes of the deliveries it carried: a batch is one
    call to the CRM, so one unreachable CRM must count once, not once per delivery in it.

    UP if any delivery reached the CRM, UNTRIED if none was tried, else DOWN.
    """
    seen = {verdict(outcome) for outcome in outcomes}
    if UP in seen:
        return UP
    return DOWN if DOWN in seen else UNTRIED


@dataclass(frozen=True)
class BreakerRule:
    """Open after `threshold` DOWN attempts in a row; probe after 30 s, then twice as long
    after each failed probe, up to `longest_probe` seconds."""

    threshold: int = 5
    first_probe: float = 30.0
    longest_probe: float = 600.0

    def failures(self, before: int, seen: str) -> int:
        """The DOWN attempts in a row after one more."""
        return before + 1 if seen == DOWN else before if seen == UNTRIED else 0

    def opens(self, failures: int) -> bool:
        return failures >= self.threshold

    def probe_after(self, failed_probes: int) -> float:
        """Seconds from opening, or from a failed probe, to the next probe."""
        return min(self.longest_probe, self.first_probe * 2 ** failed_probes)
