"""The three defects of issue 16, each against a fake whose search lags writes by seconds."""

import html

import pytest

from receiver.adapters import Delivered
from receiver.adapters.hubspot import HubSpotAdapter
from receiver.adapters.zoho import ZohoAdapter
from receiver.config import load_settings

from .builders import sample_with
from .fakes.hubspot import TOKEN as HUBSPOT_TOKEN
from .fakes.hubspot import FakeHubSpot, Reply
from .fakes.zoho import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeZoho

PHONE, EMAIL = "+5511999990000", "maria@example.com"
NOT_FOUND = Reply(404, {"status": "error", "category": "OBJECT_NOT_FOUND",
                        "message": "Object not found."})


def hubspot_adapter(fake, database_url):
    return HubSpotAdapter(load_settings({
        "ROCKETCHAT_LIVECHAT_TOKEN": "t", "RECEIVER_ADAPTERS": "hubspot",
        "DATABASE_URL": database_url, "RECEIVER_HUBSPOT_TOKEN": HUBSPOT_TOKEN,
        "RECEIVER_HUBSPOT_API_URL": fake.url}))


def zoho_adapter(fake, database_url):
    return ZohoAdapter(load_settings({
        "ROCKETCHAT_LIVECHAT_TOKEN": "t", "RECEIVER_ADAPTERS": "zoho",
        "DATABASE_URL": database_url, "RECEIVER_ZOHO_CLIENT_ID": CLIENT_ID,
        "RECEIVER_ZOHO_CLIENT_SECRET": CLIENT_SECRET, "RECEIVER_ZOHO_REFRESH_TOKEN": REFRESH_TOKEN,
        "RECEIVER_ZOHO_ACCOUNTS_URL": fake.url}))


def deliver_each_in_a_fresh_worker(make, events) -> None:
    """As worker processes would: nothing remembered in memory from one event to the next."""
    for event in events:
        adapter = make()
        try:
            assert isinstance(adapter.deliver(event), Delivered)
        finally:
            adapter.close()


def phone_then_email(token):
    return [sample_with("e-livechat-session-start", emails=[], phones=[PHONE], token=token),
            sample_with("e-lead-capture", emails=[EMAIL], phones=[PHONE], token=token),
            sample_with("e-livechat-session-close", emails=[EMAIL], phones=[PHONE], token=token)]


# 1. A visitor who gives a phone before an email gets two records.

def test_zoho_keeps_one_contact_for_a_visitor_who_gives_a_phone_before_an_email(store_url):
    with FakeZoho() as zoho:  # the default configuration: no visitor-token field
        deliver_each_in_a_fresh_worker(lambda: zoho_adapter(zoho, store_url),
                                       phone_then_email("c9f1e0d2-4b7a-4e1f-9a3c-1d2e3f4a5b6c"))
        [(record_id, record)] = zoho.records["Contacts"].items()
        assert (record["Email"], record["Phone"]) == (EMAIL, PHONE)
        assert len(zoho.notes_of("Contacts", record_id)) == 1


def test_hubspot_keeps_one_contact_for_a_tokenless_visitor_who_gives_a_phone_first(store_url):
    with FakeHubSpot() as hubspot:  # its search lags the first contact by seconds
        deliver_each_in_a_fresh_worker(lambda: hubspot_adapter(hubspot, store_url),
                                       phone_then_email(None))
        [(contact_id, contact)] = hubspot.contacts.items()
        assert (contact["email"], contact["phone"]) == (EMAIL, PHONE)
        assert len(hubspot.notes_of(contact_id)) == 1


# 2. An anonymous visitor takes over an existing customer's record.

def mallory(token="mallory-token"):
    return sample_with("e-livechat-session-close", name="Mallory Attacker", token=token,
                       emails=["CEO@corp.example"], phones=["+19995550100"])


def test_hubspot_never_lets_a_visitor_overwrite_a_customer(store_url):
    with FakeHubSpot() as hubspot:
        ceo = {"email": "ceo@corp.example", "firstname": "Carol", "lastname": "Chief",
               "phone": "+15550100", "rocketchat_visitor_token": "carols-token"}
        ceo_id = hubspot.add_contact(**ceo)
        deliver_each_in_a_fresh_worker(lambda: hubspot_adapter(hubspot, store_url), [mallory()])
        assert hubspot.contacts == {ceo_id: ceo}
        [note] = hubspot.notes_of(ceo_id)
        body = html.unescape(note["hs_note_body"])
        assert 'the visitor gave the name "Mallory Attacker"' in body
        assert '"Carol Chief"' in body and "Chat identities are not verified" in body


def test_zoho_never_lets_a_visitor_overwrite_a_customer(store_url):
    with FakeZoho() as zoho:
        ceo = {"Email": "ceo@corp.example", "First_Name": "Carol", "Last_Name": "Chief",
               "Phone": "+15550100", "Lead_Source": "Trade show"}
        ceo_id = zoho.add_record("Contacts", **ceo)
        zoho.index()
        deliver_each_in_a_fresh_worker(lambda: zoho_adapter(zoho, store_url), [mallory()])
        assert zoho.records["Contacts"] == {ceo_id: ceo}
        [note] = zoho.notes_of("Contacts", ceo_id)
        assert note["Note_Content"].startswith(
            'Unverified identity: the visitor gave the name "Mallory Attacker"')


# 3. HubSpot's 409 on create leaves the event's properties unwritten.

def test_hubspot_writes_the_event_to_the_contact_a_409_names(store_url):
    with FakeHubSpot() as hubspot:
        token = "c9f1e0d2-4b7a-4e1f-9a3c-1d2e3f4a5b6c"
        existing = hubspot.add_contact(rocketchat_visitor_token=token, lastname="Silva")
        # Another worker creates the contact between this one's look-ups and its create.
        hubspot.answer(NOT_FOUND, NOT_FOUND)
        deliver_each_in_a_fresh_worker(lambda: hubspot_adapter(hubspot, store_url),
                                       [sample_with("e-livechat-session-start")])
        assert hubspot.calls("POST", "/crm/v3/objects/contacts") == 1  # answered 409
        assert hubspot.contacts == {existing: {
            "rocketchat_visitor_token": token, "lastname": "Silva", "firstname": "Maria",
            "email": EMAIL}}


@pytest.mark.parametrize("how", ["504", "reset"])
def test_a_create_whose_answer_was_lost_is_not_made_twice(store_url, how):
    with FakeHubSpot() as hubspot:
        hubspot.lost.lose(1, how)
        first = hubspot_adapter(hubspot, store_url)
        assert not isinstance(first.deliver(sample_with("e-livechat-session-start")), Delivered)
        deliver_each_in_a_fresh_worker(lambda: hubspot_adapter(hubspot, store_url),
                                       [sample_with("e-livechat-session-start")])
        assert len(hubspot.contacts) == 1
