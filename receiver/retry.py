"""When a failed delivery is tried again, and when it becomes a dead letter."""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

# Answers that say "not now" rather than "never": timeout, too early, too many requests.
RETRIED_STATUSES = frozenset({408, 425, 429})


def worth_retrying(status: int) -> bool:
    """Whether an HTTP answer with this status may succeed later: 408, 425, 429 and any 5xx."""
    return status in RETRIED_STATUSES or status >= 500


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, from seconds toward an hour, over a fixed horizon.

    With the defaults, retries come about 2, 4, 8, 16 and 32 s apart, so an outage of
    a minute heals within about a minute; later ones are at most an hour apart, so a
    day-long outage heals within an hour of the CRM's return.
    """

    first_delay: float = 2.0
    factor: float = 2.0
    max_delay: float = 3600.0
    jitter: float = 0.2
    horizon: float = 3 * 24 * 3600.0

    def delay(self, attempts: int, rng: random.Random = random) -> float:
        """Seconds to wait after the `attempts`-th failed attempt (1-based)."""
        base = min(self.max_delay, self.first_delay * self.factor ** max(0, attempts - 1))
        # Jitter spreads the retries of many deliveries that failed together.
        return base * (1 + rng.uniform(-self.jitter, self.jitter))

    def next_due(self, attempts: int, now: datetime, retries_since: datetime,
                 asked: float | None = None, rng: random.Random = random) -> datetime | None:
        """When to try again, honouring a delay the CRM asked for; None once past the horizon."""
        wait = self.delay(attempts, rng)
        if asked is not None:
            wait = max(asked, 0.0)
        due = now + timedelta(seconds=wait)
        if due > retries_since + timedelta(seconds=self.horizon):
            return None
        return due
