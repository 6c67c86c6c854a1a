"""The vendor fakes are as demanding as the vendors: lagging search, lost answers, limits."""

from datetime import timedelta

import pytest
import requests
from freezegun import freeze_time

from .fakes.hubspot import TOKEN, FakeHubSpot
from .fakes.zoho import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeZoho

HUBSPOT = {"Authorization": f"Bearer {TOKEN}"}


def search_phone(hubspot, phone):
    answer = requests.post(f"{hubspot.url}/crm/v3/objects/contacts/search", headers=HUBSPOT,
                           json={"filterGroups": [{"filters": [
                               {"propertyName": "phone", "operator": "EQ", "value": phone}]}]})
    return [result["id"] for result in answer.json()["results"]]


def test_hubspot_search_sees_a_write_only_after_its_lag():
    with freeze_time() as clock, FakeHubSpot(search_lag=3.0) as hubspot:
        contact_id = hubspot.add_contact(phone="+1555")
        assert search_phone(hubspot, "+1555") == []
        clock.tick(timedelta(seconds=3))
        assert search_phone(hubspot, "+1555") == [contact_id]
        requests.patch(f"{hubspot.url}/crm/v3/objects/contacts/{contact_id}", headers=HUBSPOT,
                       json={"properties": {"phone": "+1666"}})
        assert search_phone(hubspot, "+1666") == []  # search still shows the old phone
        assert search_phone(hubspot, "+1555") == [contact_id]


@pytest.mark.parametrize("how", ["504", "reset"])
def test_a_lost_answer_keeps_the_write(how):
    with FakeHubSpot() as hubspot:
        hubspot.lost.lose(1, how)
        try:
            answer = requests.post(f"{hubspot.url}/crm/v3/objects/contacts", headers=HUBSPOT,
                                   json={"properties": {"email": "a@example.com"}}, timeout=5)
            assert answer.status_code == 504 and how == "504"
        except requests.ConnectionError:
            assert how == "reset"
        assert [c["email"] for c in hubspot.contacts.values()] == ["a@example.com"]


def grant(zoho):
    return requests.post(f"{zoho.url}/oauth/v2/token", data={
        "grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN,
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}).json()


def test_zoho_grants_ten_access_tokens_in_ten_minutes_and_keeps_thirty_live():
    with freeze_time() as clock, FakeZoho() as zoho:
        first = grant(zoho)["access_token"]
        for _ in range(9):
            assert "access_token" in grant(zoho)
        assert grant(zoho)["error"] == "Access Denied"
        for _ in range(25):  # refused for the rest of the ten minutes, then granted again
            clock.tick(timedelta(minutes=2))
            grant(zoho)
        assert zoho.token_grants == 31
        assert len(zoho.tokens) == 30 and first not in zoho.tokens  # the 31st deleted it


def test_hubspot_refuses_the_call_past_its_window_and_counts_it():
    with FakeHubSpot(per_window=3, window=60.0) as hubspot:
        answers = [requests.get(f"{hubspot.url}/crm/v3/properties/contacts/email",
                                headers=HUBSPOT) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert answers[0].headers["X-HubSpot-RateLimit-Max"] == "3"
    assert answers[0].headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "60000"
    assert answers[2].headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert answers[3].json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert hubspot.traffic.summary(60.0) == {"calls": 4, "throttled": 1, "max_in_flight": 1,
                                             "peak_per_window": 4}


def test_zoho_answers_too_many_requests_past_its_credits_and_counts_it():
    with FakeZoho(credits=2, credit_window=60.0) as zoho:
        token = grant(zoho)["access_token"]
        answers = [requests.get(f"{zoho.url}/crm/v8/Contacts", params={"fields": "Last_Name"},
                                headers={"Authorization": f"Zoho-oauthtoken {token}"})
                   for _ in range(3)]
    assert [answer.status_code for answer in answers] == [204, 204, 429]
    assert answers[0].headers["X-RATELIMIT-REMAINING"] == "1"
    assert answers[2].json()["code"] == "TOO_MANY_REQUESTS"
    assert (zoho.traffic.calls, zoho.traffic.throttled) == (3, 1)
