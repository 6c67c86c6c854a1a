"""What an exception an adapter raised means: a network fault to retry, or a bug to dead-letter."""

import re
from dataclasses import dataclass

import requests
import urllib3

from .adapters.base import Failed, RetryLater

# Faults of the network or the machine, which pass: retried on the usual schedule.
TRANSIENT = (OSError, requests.RequestException, urllib3.exceptions.HTTPError)
MESSAGE_LIMIT = 500  # an exception's message may quote a whole event
QUICK_TRY = re.compile(r"^adapter raised .*\(quick try (\d+) of \d+\)\Z", re.DOTALL)


def describe(error: BaseException) -> str:
    """`TypeError: message`, the message cut to a readable length."""
    message = str(error)
    if len(message) > MESSAGE_LIMIT:
        message = message[:MESSAGE_LIMIT] + "..."
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def quick_tries_so_far(last_error: str | None) -> int:
    """How many quick tries in a row the delivery's last error says were made."""
    found = QUICK_TRY.match(last_error or "")
    return int(found.group(1)) if found else 0


@dataclass(frozen=True)
class RaisedPolicy:
    """An unexpected exception (a bug, or an event the adapter cannot map) is tried again
    `quick_tries` times in all, `quick_delay` seconds apart, in case it was a fluke, and then
    is a dead letter with the exception as its reason: retrying it for the whole horizon
    would hold back every later event of its conversation."""

    quick_tries: int = 3
    quick_delay: float = 2.0

    def outcome(self, error: Exception, last_error: str | None) -> RetryLater | Failed:
        """The outcome of an attempt that raised `error`, given the delivery's last error."""
        what = f"adapter raised {describe(error)}"
        if isinstance(error, TRANSIENT):
            return RetryLater(what)
        tries = quick_tries_so_far(last_error) + 1
        if tries >= self.quick_tries:
            return Failed(f"{what} (a dead letter after {tries} quick tries)")
        return RetryLater(f"{what} (quick try {tries} of {self.quick_tries})", self.quick_delay)
