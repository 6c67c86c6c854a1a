"""The `http` adapter: POSTs each normalized event, signed per the Standard Webhooks spec."""

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone

import urllib3
from requests.certs import where as default_ca_bundle
from requests.utils import get_auth_from_url, get_environ_proxies, select_proxy
from standardwebhooks.webhooks import Webhook
from urllib3.exceptions import HTTPError, NewConnectionError
from urllib3.exceptions import TimeoutError as HTTPTimeout
from urllib3.util import make_headers, parse_url

from ..config import HTTP_TIMEOUT_SECONDS, ConfigError, read_number, read_required
from ..jsontext import dump_json
from ..retry import worth_retrying
from . import deadline, deadline_sockets
from .api import retry_after_seconds
from .base import Adapter, Delivered, Failed, RetryLater


@dataclass(frozen=True)
class HttpSettings:
    """Where the `http` adapter posts, the secret it signs with, how long a delivery may take."""

    url: str = field(repr=False)  # may hold a user and password
    secret: str | None = field(default=None, repr=False)
    timeout: float = HTTP_TIMEOUT_SECONDS

    @classmethod
    def from_environ(cls, environ) -> "HttpSettings":
        url = read_required(environ, "RECEIVER_HTTP_URL", "http")
        secret = environ.get("RECEIVER_HTTP_SECRET") or None
        if secret:
            check_signing_secret(secret)
        return cls(url=url, secret=secret,
                   timeout=read_number(environ, "RECEIVER_HTTP_TIMEOUT", HTTP_TIMEOUT_SECONDS))


def check_signing_secret(secret: str) -> None:
    """Refuse a RECEIVER_HTTP_SECRET that Standard Webhooks cannot sign with."""
    try:
        Webhook(secret)
    except Exception:
        raise ConfigError(
            "RECEIVER_HTTP_SECRET must be a Standard Webhooks secret: `whsec_` followed by "
            "base64, for example whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        ) from None


def outcome_for(response: urllib3.BaseHTTPResponse, now: datetime):
    """The outcome of an answer: 2xx delivered; 408, 425, 429 and 5xx retried; any other failed."""
    status = response.status
    if 200 <= status < 300:
        return Delivered(detail=f"HTTP {status}")
    summary = f"HTTP {status}: {response.data.decode('utf-8', 'replace')[:200]}"
    if worth_retrying(status):
        return RetryLater(summary, retry_after_seconds(response.headers.get("Retry-After"), now))
    if 300 <= status < 400:
        return Failed(f"{summary} (redirected to {response.headers.get('Location')}; "
                      "set RECEIVER_HTTP_URL to the address that answers)")
    return Failed(summary)


def connection_pool(url: str, timeout: float) -> urllib3.PoolManager:
    """Kept-alive connections for `url`, through the environment's proxy and CA bundle, read
    once, that keep the current attempt's deadline.

    The environment is read as requests reads it (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE,
    CURL_CA_BUNDLE), credentials in the proxy's URL included. Nothing is retried and no
    redirect is followed: the worker retries on its own schedule, and a redirected POST
    would either lose its body or carry a signed event to an address nobody configured.
    """
    bundle = (os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
              or default_ca_bundle())
    options = {
        "retries": False,
        "timeout": urllib3.Timeout(connect=timeout, read=timeout),
        # A folder of hashed certificates (c_rehash) or one file of them, as requests allows.
        "ca_cert_dir" if os.path.isdir(bundle) else "ca_certs": bundle,
    }
    proxy = select_proxy(url, get_environ_proxies(url))
    if not proxy:
        return deadline_sockets.keeping_deadlines(urllib3.PoolManager(**options))
    return deadline_sockets.keeping_deadlines(urllib3.ProxyManager(
        proxy, proxy_headers=basic_auth(proxy, "proxy_basic_auth"), **options))


def basic_auth(url: str, kind: str) -> dict:
    """The user part of `url` as a Basic header; `kind` is basic_auth or proxy_basic_auth."""
    user, password = get_auth_from_url(url)
    return make_headers(**{kind: f"{user}:{password}"}) if user else {}


def without_credentials(url: str) -> str:
    """`url` without its user part."""
    return parse_url(url)._replace(auth=None).url


class HttpAdapter(Adapter):
    """Forwards events to `RECEIVER_HTTP_URL`; `webhook-id` is the event id, stable across retries.

    A delivery (connect, send, read the whole answer) takes at most `RECEIVER_HTTP_TIMEOUT`,
    and never as long as half the lease.
    """

    settings_class = HttpSettings

    def __init__(self, settings, config: HttpSettings | None = None):
        super().__init__(settings, config)
        # Credentials in the URL go in a header, never into requests, logs or stored errors.
        self.url = without_credentials(self.config.url)
        self.credentials = basic_auth(self.config.url, "basic_auth")
        self.timeout = min(self.config.timeout, deadline.attempt_seconds(settings.lease_seconds))
        self.signer = Webhook(self.config.secret) if self.config.secret else None
        self.pool = connection_pool(self.url, self.timeout)

    def headers(self, event_id: str, body: str) -> dict:
        now = datetime.now(timezone.utc)
        headers = {"Content-Type": "application/json", "Accept": "*/*",
                   "User-Agent": "rocketchat-crm-receiver",
                   "webhook-id": event_id, "webhook-timestamp": str(int(now.timestamp())),
                   **self.credentials}
        if self.signer:
            headers["webhook-signature"] = self.signer.sign(event_id, now, body)
        return headers

    def deliver(self, event: dict):
        body = dump_json(event)
        with deadline.within(self.timeout) as attempt:
            try:
                response = self.pool.request("POST", self.url, body=body.encode("utf-8"),
                                             headers=self.headers(event["id"], body))
            except (HTTPError, OSError) as error:
                if attempt.cut_short:
                    return RetryLater(f"{self.url}: {attempt.cut_short}")
                return RetryLater(self.unreachable(error))
        return outcome_for(response, datetime.now(timezone.utc))

    def unreachable(self, error: Exception) -> str:
        # urllib3 files a refused connection under its timeouts too.
        if isinstance(error, HTTPTimeout) and not isinstance(error, NewConnectionError):
            return f"no answer from {self.url} within {self.timeout} s"
        return f"cannot reach {self.url}: {type(error).__name__}"

    def check(self) -> str:
        with deadline.within(self.timeout):
            response = self.pool.request("HEAD", self.url, headers=self.credentials)
        # Deliveries follow no redirect and fail on a refused credential; a 405 only says
        # the endpoint takes POST and not HEAD.
        if not (200 <= response.status < 300 or response.status == 405):
            raise ConnectionError(f"{self.url} answered HTTP {response.status}")
        return f"{self.url} answered HTTP {response.status}"

    def close(self) -> None:
        self.pool.clear()
