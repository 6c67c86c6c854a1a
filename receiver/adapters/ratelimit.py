"""A CRM account's rate budget as a worker spends it: buckets in the store, waits, corrections."""

import hashlib
import logging
import random
import time
from dataclasses import dataclass

from ..config import ConfigError
from ..store import budget
from ..store.budget import Bucket
from ..store.transactions import StoreUnavailable, transaction
from .api import Transient
from .own_engine import OnOwnEngine

log = logging.getLogger(__name__)

# The bucket starts a window with a tenth of the limit and gains 80 % of it over the
# window: any one window then sees at most 0.1 + 0.8 x 1.1 = 98 % of the limit even
# counting the calls a process reserved up to a tenth of a window before it spent them.
BURST_SHARE = 0.1
SUSTAINED_SHARE = 0.8
HOLD_SHARE = 0.1
RESERVE = 3  # calls a process takes from the store at once, so most calls skip the store
WAIT_REASON = "waiting for the rate budget"


@dataclass(frozen=True)
class Rate:
    """A vendor's limit: `calls` in any `seconds`."""

    calls: int
    seconds: float

    def bucket(self) -> Bucket:
        return Bucket(capacity=max(1.0, BURST_SHARE * self.calls),
                      per_second=SUSTAINED_SHARE * self.calls / self.seconds)

    def __str__(self) -> str:
        return f"{self.calls}/{self.seconds:g}"


def read_rate(environ, name: str, default: Rate) -> Rate:
    """`calls/seconds` (such as `100/10`) from `environ[name]`, or `default` when unset."""
    raw = (environ.get(name) or "").strip()
    if not raw:
        return default
    calls, _, seconds = raw.partition("/")
    try:
        rate = Rate(int(calls), float(seconds or 1))
    except ValueError:
        raise ConfigError(f"{name} must be calls/seconds, such as 100/10, got {raw!r}") from None
    if rate.calls <= 0 or rate.seconds <= 0:
        raise ConfigError(f"{name} must be greater than zero, got {raw!r}")
    return rate


def account_key(vendor: str, *secrets: str) -> str:
    """The store's key for an account: the vendor and a hash of its credentials, never them."""
    digest = hashlib.sha256("\0".join(secrets).encode()).hexdigest()[:16]
    return f"{vendor}:{digest}"


class BudgetStore(OnOwnEngine):
    """The buckets' table, reached through the adapter's own engine."""

    def run(self, statement, *args, unavailable=None):
        """Run one of store.budget's statements in its own short transaction; `unavailable`
        when the store cannot answer.

        A store that cannot keep the budget must not stop the calls themselves (a
        connection check, a delivery whose outcome a later transaction may still record):
        they go unbudgeted, and a 429 then paces them as it did before the budget.
        """
        try:
            with transaction(self.engine) as conn:
                return statement(conn, *args)
        except StoreUnavailable as error:
            log.warning("the rate budget is not kept while the store is unavailable: %s",
                        error)
            return unavailable


class Budget:
    """One bucket as this process spends it: a few calls reserved at a time, waits bounded."""

    def __init__(self, store: BudgetStore, key: str, rate: Rate, clock=time.time,
                 sleep=time.sleep):
        self.store, self.key, self.rate = store, key, rate
        self.bucket = rate.bucket()
        self.clock, self.sleep = clock, sleep
        self.reserved = 0
        self.reserved_until = 0.0

    def take(self, within: float) -> None:
        """Spend one call, waiting for it up to `within` seconds; Transient with the wait
        as its delay when it would take longer, so the delivery is retried then."""
        waited = 0.0
        while True:
            now = self.clock()
            if self.reserved and now < self.reserved_until:
                self.reserved -= 1
                return
            granted, wait = self.store.run(budget.take, self.key, self.bucket, RESERVE, now,
                                           unavailable=(1, 0.0))
            if granted:
                # Unspent calls lapse after a tenth of the window, so the bucket's arithmetic
                # (see BURST_SHARE) holds however late a reserved call is spent.
                self.reserved = granted - 1
                self.reserved_until = now + HOLD_SHARE * self.rate.seconds
                return
            # A little jitter, so the workers that waited together do not all ask at once.
            wait *= 1 + random.uniform(0, 0.1)
            if waited + wait > within:
                raise Transient(f"{WAIT_REASON} of {self.key.split(':')[0]} "
                                f"({self.rate} s): next call in {wait:.1f} s", wait)
            self.sleep(wait)
            waited += wait

    def heed(self, response, remaining_header: str, refused_for: float) -> None:
        """Correct the bucket from the CRM's answer: a 429 stops it for `refused_for`
        seconds, else the header that counts the calls left may lower it."""
        if response.status_code == 429:
            self.refused(refused_for)
            return
        remaining = response.headers.get(remaining_header, "")
        if remaining.isdigit():
            self.remaining(int(remaining))

    def remaining(self, calls: int) -> None:
        """The CRM says `calls` are left in its window: keep no more than that."""
        if calls < self.bucket.capacity:  # else the bucket cannot hold more than that anyway
            self.reserved = min(self.reserved, calls)
            self.store.run(budget.lower, self.key, float(calls))

    def refused(self, seconds: float) -> None:
        """The CRM answered 429: spend nothing for `seconds`."""
        self.reserved = 0
        log.warning("%s refused a call (429); its budget waits %.1f s", self.key, seconds)
        self.store.run(budget.block, self.key, self.clock() + seconds)


class Limits:
    """No limit: every call goes at once. Vendors' adapters pass their own to ApiSession."""

    def budgets(self, method: str, url: str) -> list[Budget]:
        """The buckets a call to `url` takes from, in order."""
        return []

    def observe(self, method: str, url: str, response) -> None:
        """Correct the buckets from what the CRM's answer says of its limits."""

    def close(self) -> None:
        """Release the store's connection."""
