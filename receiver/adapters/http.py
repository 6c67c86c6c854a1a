"""The `http` adapter: POSTs each normalized event, signed per the Standard Webhooks spec."""

import os
from datetime import datetime, timezone

import requests
from standardwebhooks.webhooks import Webhook

from ..jsontext import dump_json
from .api import RETRIED_STATUSES, retry_after_seconds
from .base import Adapter, Delivered, Failed, RetryLater


def outcome_for(response: requests.Response, now: datetime):
    """Map the consumer's status to an outcome: 2xx delivered, 408/429/5xx retried, other 4xx failed."""
    status = response.status_code
    if 200 <= status < 300:
        return Delivered(detail=f"HTTP {status}")
    summary = f"HTTP {status}: {response.text[:200]}"
    if status in RETRIED_STATUSES or status >= 500:
        return RetryLater(summary, retry_after_seconds(response.headers.get("Retry-After"), now))
    return Failed(summary)


def environment_settled_session(url: str) -> requests.Session:
    """A kept-alive session with the proxy and CA settings of the environment read once.

    Left to itself, requests reads them again on every call, which costs more than a
    local delivery.
    """
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(url))
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    session.trust_env = False
    return session


class HttpAdapter(Adapter):
    """Forwards events to `RECEIVER_HTTP_URL`; `webhook-id` is the event id, stable across retries."""

    def __init__(self, settings):
        super().__init__(settings)
        self.url = settings.http_url
        self.timeout = settings.http_timeout
        self.signer = Webhook(settings.http_secret) if settings.http_secret else None
        self.session = environment_settled_session(self.url)

    def headers(self, event_id: str, body: str) -> dict:
        now = datetime.now(timezone.utc)
        headers = {"Content-Type": "application/json", "User-Agent": "rocketchat-crm-receiver",
                   "webhook-id": event_id, "webhook-timestamp": str(int(now.timestamp()))}
        if self.signer:
            headers["webhook-signature"] = self.signer.sign(event_id, now, body)
        return headers

    def deliver(self, event: dict):
        body = dump_json(event)
        try:
            response = self.session.post(
                self.url, data=body.encode("utf-8"),
                headers=self.headers(event["id"], body), timeout=self.timeout,
            )
        except requests.Timeout:
            return RetryLater(f"no answer from {self.url} within {self.timeout} s")
        except requests.RequestException as error:
            return RetryLater(f"cannot reach {self.url}: {type(error).__name__}")
        return outcome_for(response, datetime.now(timezone.utc))

    def check(self) -> str:
        response = self.session.head(self.url, timeout=self.timeout)
        return f"{self.url} answered HTTP {response.status_code}"

    def close(self) -> None:
        self.session.close()
