"""What adapters that call a CRM's REST API share: one time budget per delivery, errors as outcomes."""

import logging
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import requests

from ..retry import worth_retrying
from . import deadline, deadline_sockets
from .base import Adapter, Delivered, Failed, RetryLater

log = logging.getLogger(__name__)

USER_AGENT = "rocketchat-crm-receiver"
REQUEST_TIMEOUT_SECONDS = 10.0
MIN_CALL_SECONDS = 0.5  # a call started with less of the delivery's budget left is not made


class ApiError(Exception):
    """A CRM call that did not succeed; the subclass says whether retrying can help."""

    def __init__(self, reason: str, delay: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


class Transient(ApiError):
    """Worth retrying: the CRM is down, slow or rate limiting; `delay` is what it asked for."""


class Permanent(ApiError):
    """Retrying the same event cannot succeed: bad credentials, or the CRM refuses the data."""


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """The delay a `Retry-After` header asks for, in seconds or as an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
    except (TypeError, ValueError):
        return None


def asked_delay(response: requests.Response) -> float | None:
    """The delay the answer's `Retry-After` header asks for, if it has one."""
    return retry_after_seconds(response.headers.get("Retry-After"), datetime.now(timezone.utc))


def json_of(response: requests.Response) -> dict:
    """The response's JSON object, or an empty dict when it has none (an HTML error page)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {"data": body}


def error_for(response: requests.Response, service: str, *, message: str, credentials: str,
              delay: float | None = None) -> ApiError:
    """The error a non-2xx answer means: 401/403 name the setting, 408/429/5xx are retried."""
    status = response.status_code
    if status in (401, 403):
        return Permanent(f"{service} HTTP {status} (check {credentials}): {message}")
    if worth_retrying(status):
        return Transient(f"{service} HTTP {status}: {message}", delay)
    return Permanent(f"{service} HTTP {status}: {message}")


class ApiSession:
    """A kept-alive HTTP session whose calls share one time budget per delivery.

    The budget is one total deadline for every byte sent and received (see deadline.py),
    shorter than half the worker's lease, so a slow or trickling CRM cannot make two workers
    deliver the same event at once.
    """

    def __init__(self, service: str, budget_seconds: float, limits=None):
        self.service = service
        self.limits = limits  # a ratelimit.Limits: the CRM account's shared rate budget
        self.budget_seconds = budget_seconds
        self.budget_ends_at = time.monotonic() + budget_seconds
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        for prefix in ("http://", "https://"):
            self.session.mount(prefix, deadline_sockets.DeadlineTransport())

    def start(self) -> None:
        """Begin a new delivery's budget."""
        self.budget_ends_at = time.monotonic() + self.budget_seconds

    def request(self, method: str, url: str, **kwargs) -> requests.Response:
        remaining = self.remaining()
        if self.limits:
            # Wait for the account's budget rather than provoke a 429, but never past the
            # delivery's deadline: then it is retried once the budget allows, sooner or later.
            for budget in self.limits.budgets(method, url):
                budget.take(remaining - MIN_CALL_SECONDS)
            remaining = self.remaining()
        response = self.send(method, url, remaining, **kwargs)
        if self.limits:
            self.limits.observe(method, url, response)
        return response

    def remaining(self) -> float:
        """Seconds left of this delivery's budget; Transient when too few for another call."""
        remaining = self.budget_ends_at - time.monotonic()
        if remaining < MIN_CALL_SECONDS:
            raise Transient(f"{self.service} calls took longer than the "
                            f"{self.budget_seconds:g} s a delivery may take")
        return remaining

    def send(self, method: str, url: str, remaining: float, **kwargs) -> requests.Response:
        with deadline.within(remaining) as attempt:
            try:
                return self.session.request(
                    method, url, timeout=min(REQUEST_TIMEOUT_SECONDS, remaining), **kwargs)
            except requests.RequestException as error:
                if attempt.cut_short:
                    raise Transient(f"{self.service} {method} {url}: {attempt.cut_short}") from None
                if isinstance(error, requests.Timeout):
                    raise Transient(f"{self.service} did not answer {method} {url} in time") from None
                raise Transient(f"cannot reach {self.service}: {type(error).__name__}") from None

    def close(self) -> None:
        self.session.close()
        if self.limits:
            self.limits.close()


class ApiAdapter(Adapter):
    """Base for CRM adapters: skips test events unless asked, turns API errors into outcomes.

    Subclasses set `self.api` (an ApiSession) and `self.include_test`, and implement
    `write(event) -> Delivered`, raising Transient or Permanent when the CRM says no.
    """

    writes_back = True  # its Delivered outcomes carry CRM record ids worth answering with
    include_test = False
    test_setting = "the adapter's INCLUDE_TEST setting"

    def deliver(self, event: dict):
        if event.get("test") and not self.include_test:
            return Delivered(detail=f"test event not sent (set {self.test_setting} to send it)")
        self.api.start()
        try:
            return self.write(event)
        except Transient as error:
            return RetryLater(error.reason, error.delay)
        except Permanent as error:
            return Failed(error.reason)

    def write(self, event: dict) -> Delivered:
        raise NotImplementedError

    @staticmethod
    def lease_budget(settings) -> float:
        """Under half the lease: enough for a handful of calls, never long enough to lose the claim."""
        return deadline.attempt_seconds(settings.lease_seconds)

    def close(self) -> None:
        self.api.close()
