"""Acts as Rocket.Chat: posts webhook bodies with a chosen version's retry policy.

The policies follow what each Rocket.Chat version really does (see the project's notes
on the sender): which answers count as success, which are retried, how often, how far apart.
"""

import copy
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import requests

from .records import format_time
from .samples import sample_bodies


@dataclass(frozen=True)
class SenderPolicy:
    """How one generation of Rocket.Chat treats an answer."""

    name: str
    attempts: int
    success: str  # "200": only exactly 200; "lt400": anything below 400
    retry: str  # "5xx": 5xx, 429 and network errors; "any": every failure; "network": errors only

    def succeeded(self, status: int) -> bool:
        return status == 200 if self.success == "200" else status < 400

    def retries(self, status: int | None) -> bool:
        """Whether this answer (None: no answer at all) is tried again."""
        if status is None:
            return True
        if self.retry == "5xx":
            return status >= 500 or status == 429
        return self.retry == "any"


POLICIES = {
    "current": SenderPolicy("7.10.4 and later", 5, "200", "5xx"),
    "6.4.3": SenderPolicy("6.4.3 to 7.10.3", 10, "200", "any"),
    "6.2": SenderPolicy("6.2 to 6.4.2", 10, "200", "network"),
    "5.x": SenderPolicy("1.x to 5.x (Meteor HTTP)", 10, "lt400", "any"),
}


@dataclass(frozen=True)
class Attempt:
    """One request and what came back; without an answer, `body` says why in words."""

    number: int
    status: int | None
    body: str
    millis: float
    unreachable: bool = False  # nothing listens there, or the name does not resolve


# Causes that retrying within the next two minutes will not cure.
UNREACHABLE = {ConnectionRefusedError: "connection refused",
               socket.gaierror: "the host name does not resolve"}


def _causes(error: BaseException):
    """`error` and everything it wraps (requests wraps urllib3, which wraps the socket's error)."""
    pending, seen = [error], set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [getattr(current, "reason", None), current.__cause__, current.__context__]
        pending += [arg for arg in current.args if isinstance(arg, BaseException)]


def why_no_answer(error: requests.RequestException, timeout: float) -> tuple[str, bool]:
    """Why a request got no answer, in words, and whether the URL is unreachable."""
    if isinstance(error, requests.Timeout):
        return f"timed out after {timeout:g} s", False
    for cause in _causes(error):
        for kind, words in UNREACHABLE.items():
            if isinstance(cause, kind):
                return words, True
    if isinstance(error, requests.exceptions.SSLError):
        return "the TLS handshake failed", False
    return f"{type(error).__name__}: {error}", False


def post_once(session, url: str, token: str, body: dict, timeout: float) -> Attempt:
    started = time.monotonic()
    try:
        response = session.post(url, json=body, timeout=timeout,
                                headers={"X-RocketChat-Livechat-Token": token})
    except requests.RequestException as error:
        reason, unreachable = why_no_answer(error, timeout)
        return Attempt(0, None, reason[:300], (time.monotonic() - started) * 1000, unreachable)
    return Attempt(0, response.status_code, response.text.strip()[:300],
                   (time.monotonic() - started) * 1000)


def deliver(session, url: str, token: str, body: dict, policy: SenderPolicy,
            timeout: float, retry_delay: float, sleep=time.sleep) -> list[Attempt]:
    """Post `body` as Rocket.Chat would, retrying per `policy`; every attempt, in order.

    Unlike Rocket.Chat, an unreachable URL (connection refused, unknown host) is not tried
    again: the answer would be the same for the next two minutes.
    """
    attempts = []
    for number in range(1, policy.attempts + 1):
        attempt = post_once(session, url, token, body, timeout)
        attempts.append(Attempt(number, attempt.status, attempt.body, attempt.millis,
                                attempt.unreachable))
        if attempt.status is not None and policy.succeeded(attempt.status):
            break
        if attempt.unreachable or not policy.retries(attempt.status) or number == policy.attempts:
            break
        sleep(retry_delay)
    return attempts


def conversation(now: datetime | None = None) -> list[dict]:
    """A whole synthetic chat, with fresh ids: start, queue, messages, take, forward, edit, close."""
    now = now or datetime.now(timezone.utc)
    samples = sample_bodies()
    room, suffix = f"rc{uuid.uuid4().hex[:15]}", uuid.uuid4().hex[:8]
    steps = [
        ("e-livechat-session-start", 0), ("e-livechat-session-queued", 1),
        ("e-message-visitor", 2), ("e-livechat-session-taken", 3), ("e-message-agent", 4),
        ("e-livechat-session-forwarded-agent", 5), ("e-message-visitor-edited", 6),
        ("e-livechat-session-close", 7),
    ]
    bodies = []
    for name, minute in steps:
        body = copy.deepcopy(samples[name])
        body["_id"] = room
        moment = format_time(now + timedelta(minutes=minute))
        for message in body.get("messages", []):
            message["_id"] = f"{message.get('_id', 'm')}-{suffix}"
            message["rid"] = room
        if body["type"] == "Message":
            body["messages"][0]["ts"] = moment
            if "editedAt" in body["messages"][0]:
                body["messages"][0]["editedAt"] = moment
        if body["type"] == "LivechatSession":
            body["closedAt"] = moment
        body["lastMessageAt"] = moment
        bodies.append(body)
    return bodies
