"""One total deadline per delivery attempt, against a real CRM that answers a byte at a time."""

import time

import pytest

from receiver.adapters import RetryLater, deadline
from receiver.adapters.hubspot import HubSpotAdapter
from receiver.adapters.zoho import ZohoAdapter
from receiver.config import load_settings
from receiver.testing import sample_events

from .crm import SECRET
from .trickling import TricklingCrm

# Each trickle would last 12 s; every attempt here must end by its deadline of 1.35 s.
LEASE = "3"
DEADLINE = 1.35
MARGIN = 1.5  # a busy machine's scheduling, never near the trickle's length


def environ(store_url, **more):
    # A read timeout of 2 s, which a byte every 0.25 s never trips; the CRM adapters keep
    # their links in `store_url`.
    return {"ROCKETCHAT_LIVECHAT_TOKEN": "t", "RECEIVER_LEASE_SECONDS": LEASE,
            "RECEIVER_HTTP_TIMEOUT": "2", "DATABASE_URL": store_url, **more}


def http_adapter(url, store_url):
    from receiver.adapters.http import HttpAdapter

    return HttpAdapter(load_settings(environ(
        store_url, RECEIVER_ADAPTERS="http", RECEIVER_HTTP_URL=url, RECEIVER_HTTP_SECRET=SECRET)))


def hubspot_adapter(url, store_url):
    return HubSpotAdapter(load_settings(environ(
        store_url, RECEIVER_ADAPTERS="hubspot", RECEIVER_HUBSPOT_TOKEN="pat-na1-x",
        RECEIVER_HUBSPOT_API_URL=url)))


def zoho_adapter(url, store_url):
    return ZohoAdapter(load_settings(environ(
        store_url, RECEIVER_ADAPTERS="zoho", RECEIVER_ZOHO_CLIENT_ID="1000.X",
        RECEIVER_ZOHO_CLIENT_SECRET="s", RECEIVER_ZOHO_REFRESH_TOKEN="1000.r",
        RECEIVER_ZOHO_ACCOUNTS_URL=url)))


def timed_delivery(adapter):
    event = sample_events()["e-livechat-session-close"]
    started = time.monotonic()
    try:
        return adapter.deliver(event), time.monotonic() - started
    finally:
        adapter.close()


@pytest.mark.parametrize("make", [http_adapter, hubspot_adapter, zoho_adapter])
@pytest.mark.parametrize("what", ["body", "headers"])
def test_a_trickled_answer_ends_by_the_deadline_as_retry_later(make, what, store_url):
    with TricklingCrm(what) as crm:
        outcome, took = timed_delivery(make(crm.url, store_url))
    assert isinstance(outcome, RetryLater)
    assert "no whole answer within" in outcome.reason
    assert took < DEADLINE + MARGIN


@pytest.mark.parametrize("make", [http_adapter, hubspot_adapter, zoho_adapter])
def test_an_answer_past_the_size_cap_is_retried(make, monkeypatch, store_url):
    monkeypatch.setattr(deadline, "MAX_ANSWER_BYTES", 64 * 1024)
    with TricklingCrm("flood", flood_bytes=1024 * 1024) as crm:
        outcome, _ = timed_delivery(make(crm.url, store_url))
    assert isinstance(outcome, RetryLater)
    assert f"answers larger than {64 * 1024} bytes" in outcome.reason


def test_the_deadline_is_under_half_the_lease(store_url):
    adapter = http_adapter("http://127.0.0.1:9/", store_url)
    assert adapter.timeout == DEADLINE == deadline.attempt_seconds(float(LEASE))
    assert hubspot_adapter("http://127.0.0.1:9", store_url).api.budget_seconds == DEADLINE


def test_an_inner_deadline_never_outlasts_the_outer_one():
    with deadline.within(1.0) as outer:
        with deadline.within(60.0) as inner:
            assert inner.ends_at == outer.ends_at and inner.seconds == 1.0
