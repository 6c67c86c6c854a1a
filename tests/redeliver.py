"""Delivering as the worker does: again after a RetryLater, until the adapter is done."""

import time

from receiver.adapters import Adapter, RetryLater

TRIES = 20
LONGEST_WAIT = 2.0  # tests run with short search lags and leases, so waits are short too


class Redelivering(Adapter):
    """Wraps an adapter; each `deliver` is repeated after RetryLater, up to TRIES times.

    A RetryLater that asks for longer than LONGEST_WAIT (a rate limit) is returned as is.
    """

    def __init__(self, adapter: Adapter):
        super().__init__(adapter.settings)
        self.adapter = adapter
        self.retries = 0

    def deliver(self, event: dict):
        for _ in range(TRIES):
            outcome = self.adapter.deliver(event)
            if not isinstance(outcome, RetryLater) or (outcome.delay or 0) > LONGEST_WAIT:
                return outcome
            self.retries += 1
            time.sleep(outcome.delay or 0.05)
        return outcome

    def check(self) -> str:
        return self.adapter.check()

    def close(self) -> None:
        self.adapter.close()
