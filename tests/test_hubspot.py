"""The `hubspot` adapter against a local fake HubSpot built from HubSpot's documented API."""

import copy

import pytest
from freezegun import freeze_time

from receiver.adapters import Delivered, Failed, RetryLater
from receiver.adapters.api import Transient
from receiver.adapters.hubspot import HubSpotAdapter
from receiver.adapters.hubspot.mapping import NOTE_BODY_LIMIT
from receiver.config import ConfigError, load_settings
from receiver.testing import AdapterContract, sample_events

from .builders import sample_with as event
from .fakes.hubspot import TOKEN, FakeHubSpot, Reply, rate_limited
from .redeliver import Redelivering
from .references import OrderOfNotes, referenced_event_ids
from .returning_visitors import ORDERS, visits

@pytest.fixture
def hubspot_settings(store_url):
    """Settings for a `hubspot` adapter at `url`, keeping its links in the test's own store."""

    def settings(url, **environ):
        return load_settings({"ROCKETCHAT_LIVECHAT_TOKEN": "t", "RECEIVER_ADAPTERS": "hubspot",
                              "RECEIVER_HUBSPOT_TOKEN": TOKEN, "RECEIVER_HUBSPOT_API_URL": url,
                              "DATABASE_URL": store_url, **environ})

    return settings


def delivered_to(hubspot) -> list[str]:
    """The event ids HubSpot's notes name, in the order the notes were created."""
    return referenced_event_ids(note["properties"]["hs_note_body"]
                                for note in hubspot.notes.values())


@pytest.fixture
def hubspot():
    with FakeHubSpot(extra_properties=("cpf_number",)) as fake:
        yield fake


@pytest.fixture
def adapter(hubspot, hubspot_settings):
    adapter = HubSpotAdapter(hubspot_settings(hubspot.url))
    yield adapter
    adapter.close()


class TestHubSpotContract(OrderOfNotes, AdapterContract):
    @pytest.fixture(autouse=True)
    def _fake(self, hubspot, hubspot_settings):
        self.hubspot, self.settings = hubspot, hubspot_settings

    def make_adapter(self):
        return HubSpotAdapter(self.settings(self.hubspot.url))

    def delivered_ids(self):
        return delivered_to(self.hubspot)


def test_a_closed_chat_becomes_a_contact_with_a_transcript_note(hubspot, adapter):
    outcome = adapter.deliver(sample_events()["e-livechat-session-close"])
    assert isinstance(outcome, Delivered)
    [(contact_id, contact)] = hubspot.contacts.items()
    assert contact == {"email": "maria@example.com", "phone": "+5511999990000",
                       "firstname": "Maria", "lastname": "Silva",
                       "rocketchat_visitor_token": "c9f1e0d2-4b7a-4e1f-9a3c-1d2e3f4a5b6c"}
    [note] = hubspot.notes_of(contact_id)
    body = note["hs_note_body"]
    for fact in ("John Doe (john.doe)", "john.doe@example.com", "dQ1w2E3r4T5y6U7i8",
                 "delivery, refund", "2025-03-04 10:15:02 UTC", "2025-03-04 10:31:48 UTC by the agent",
                 "Hi, my order #1234 has not arrived", "Refund issued, sorry!",
                 "Rocket.Chat reference: [conversation r7XkPq2mZ4nLb8sT3]"):
        assert fact in body, fact
    assert note["hs_timestamp"] == "2025-03-04T10:31:48.880Z"
    assert outcome.references == {"contact_id": contact_id,
                                  "note_id": next(iter(hubspot.notes))}


def test_redelivery_by_a_fresh_worker_updates_instead_of_duplicating(hubspot, hubspot_settings):
    close = sample_events()["e-livechat-session-close"]
    for _ in range(3):  # each a new adapter: nothing remembered in memory
        adapter = HubSpotAdapter(hubspot_settings(hubspot.url))
        assert isinstance(adapter.deliver(close), Delivered)
        adapter.close()
    assert len(hubspot.contacts) == 1 and len(hubspot.notes) == 1


def test_a_later_edit_of_a_closed_chat_rewrites_its_note(hubspot, adapter):
    close = sample_events()["e-livechat-session-close"]
    adapter.deliver(close)
    edited = copy.deepcopy(close)
    edited["kind"], edited["conversation"]["tags"] = "chat.updated", ["delivery", "vip"]
    adapter.deliver(edited)
    [note] = hubspot.notes.values()
    assert "delivery, vip" in note["properties"]["hs_note_body"]


def test_repeated_events_of_a_known_visitor_cost_no_calls(hubspot, adapter):
    adapter.deliver(sample_events()["e-message-visitor"])
    before = len(hubspot.requests)
    adapter.deliver(sample_events()["e-message-agent"])
    assert len(hubspot.requests) == before


def test_an_existing_contact_is_found_by_email_and_only_its_empty_fields_filled(
        hubspot, adapter):
    existing = hubspot.add_contact(email="MARIA@example.com", lastname="Old")
    adapter.deliver(sample_events()["e-livechat-session-start"])
    assert list(hubspot.contacts) == [existing]
    assert hubspot.contacts[existing] == {
        "email": "MARIA@example.com", "lastname": "Old", "firstname": "Maria",
        "rocketchat_visitor_token": "c9f1e0d2-4b7a-4e1f-9a3c-1d2e3f4a5b6c"}


def test_without_email_the_contact_is_found_by_phone_through_search(hubspot, adapter):
    existing = hubspot.add_contact(phone="+5511999990000", lastname="Silva")
    hubspot.index()
    adapter.deliver(event("e-livechat-session-start", emails=[], phones=["+5511999990000"]))
    assert list(hubspot.contacts) == [existing]


def test_the_visitor_token_finds_a_contact_search_has_not_indexed_yet(hubspot, hubspot_settings):
    start = event("e-livechat-session-start", emails=[])
    first = HubSpotAdapter(hubspot_settings(hubspot.url))
    first.deliver(start)
    # A second worker, no memory, and HubSpot's search index still behind the write.
    second = HubSpotAdapter(hubspot_settings(hubspot.url))
    second.deliver(start)
    assert len(hubspot.contacts) == 1


def test_a_visitor_with_nothing_to_match_on_is_a_dead_letter(adapter):
    outcome = adapter.deliver(event("e-livechat-session-start", emails=[], phones=[], token=None))
    assert isinstance(outcome, Failed) and "visitor token" in outcome.reason


def test_mapped_custom_fields_are_written(hubspot, hubspot_settings):
    adapter = HubSpotAdapter(hubspot_settings(
        hubspot.url, RECEIVER_HUBSPOT_CUSTOM_FIELDS="cpf=cpf_number"))
    adapter.deliver(sample_events()["e-livechat-session-close"])
    [contact] = hubspot.contacts.values()
    assert contact["cpf_number"] == "123.456.789-00"


def test_an_offline_message_is_a_contact_with_a_note_once(hubspot, adapter, hubspot_settings):
    offline = sample_events()["e-offline-message"]
    assert isinstance(adapter.deliver(offline), Delivered)
    assert isinstance(HubSpotAdapter(hubspot_settings(hubspot.url)).deliver(offline), Delivered)
    [(contact_id, contact)] = hubspot.contacts.items()
    assert contact["email"] == "carlos@example.com" and contact["lastname"] == "Lima"
    [note] = hubspot.notes_of(contact_id)
    assert "Please call me back tomorrow." in note["hs_note_body"]


def test_a_contact_deleted_in_hubspot_is_found_or_made_again(hubspot, adapter):
    adapter.deliver(sample_events()["e-livechat-session-start"])
    hubspot.contacts.clear()
    assert isinstance(adapter.deliver(event("e-livechat-session-start", name="Maria S")), Delivered)
    assert len(hubspot.contacts) == 1


def test_ten_second_limit_is_retried_after_its_window(hubspot, adapter):
    hubspot.answer(rate_limited())
    outcome = adapter.deliver(sample_events()["e-livechat-session-start"])
    assert isinstance(outcome, RetryLater) and outcome.delay == 10.0
    assert "HubSpot HTTP 429" in outcome.reason


def test_daily_limit_waits_an_hour(hubspot, adapter):
    hubspot.answer(rate_limited(daily=True))
    assert adapter.deliver(sample_events()["e-livechat-session-start"]).delay == 3600.0
    # The shared budget now waits out that hour without calling HubSpot again.
    calls = hubspot.traffic.calls
    outcome = adapter.deliver(sample_events()["e-livechat-session-start"])
    assert isinstance(outcome, RetryLater) and outcome.delay >= 3590.0
    assert hubspot.traffic.calls == calls


def test_retry_after_wins(hubspot, adapter):
    hubspot.answer(Reply(503, {"status": "error", "message": "busy"}, {"Retry-After": "7"}))
    outcome = adapter.deliver(sample_events()["e-livechat-session-start"])
    assert isinstance(outcome, RetryLater) and outcome.delay == 7.0


def test_a_wrong_token_fails_for_good_naming_the_setting(hubspot, hubspot_settings):
    adapter = HubSpotAdapter(hubspot_settings(hubspot.url, RECEIVER_HUBSPOT_TOKEN="pat-wrong"))
    outcome = adapter.deliver(sample_events()["e-livechat-session-start"])
    assert isinstance(outcome, Failed)
    assert "HTTP 401" in outcome.reason and "RECEIVER_HUBSPOT_TOKEN" in outcome.reason


def test_missing_scopes_fail_for_good(hubspot, adapter):
    hubspot.scopes_missing = True
    outcome = adapter.deliver(sample_events()["e-livechat-session-start"])
    assert isinstance(outcome, Failed) and "MISSING_SCOPES" in outcome.reason


def test_an_unknown_property_is_refused_for_good(hubspot, hubspot_settings):
    adapter = HubSpotAdapter(hubspot_settings(
        hubspot.url, RECEIVER_HUBSPOT_CUSTOM_FIELDS="cpf=no_such_property"))
    outcome = adapter.deliver(sample_events()["e-livechat-session-close"])
    assert isinstance(outcome, Failed) and "PROPERTY_DOESNT_EXIST" in outcome.reason


def test_an_unreachable_hubspot_is_retried(hubspot_settings):
    adapter = HubSpotAdapter(hubspot_settings("http://127.0.0.1:9"))
    outcome = adapter.deliver(sample_events()["e-livechat-session-start"])
    assert isinstance(outcome, RetryLater) and "cannot reach HubSpot" in outcome.reason


def test_test_events_are_skipped_unless_asked(hubspot, hubspot_settings):
    sample = sample_events()["webhook-test-sample"]
    assert sample["test"]
    skipped = HubSpotAdapter(hubspot_settings(hubspot.url)).deliver(sample)
    assert isinstance(skipped, Delivered) and "RECEIVER_HUBSPOT_INCLUDE_TEST" in skipped.detail
    assert hubspot.requests == []
    adapter = HubSpotAdapter(hubspot_settings(hubspot.url, RECEIVER_HUBSPOT_INCLUDE_TEST="true"))
    assert isinstance(adapter.deliver(sample), Delivered) and len(hubspot.notes) == 1


def test_a_long_transcript_is_cut_to_hubspots_limit_and_keeps_its_reference(hubspot, adapter):
    close = copy.deepcopy(sample_events()["e-livechat-session-close"])
    close["messages"] = close["messages"][:1] * 2000
    adapter.deliver(close)
    [note] = hubspot.notes.values()
    body = note["properties"]["hs_note_body"]
    assert len(body) <= NOTE_BODY_LIMIT and "later messages not shown" in body
    assert body.endswith("Rocket.Chat reference: [conversation r7XkPq2mZ4nLb8sT3]</p>")


def test_notes_are_found_past_the_first_page_of_associations(hubspot, adapter, hubspot_settings):
    close = sample_events()["e-livechat-session-close"]
    adapter.deliver(close)
    [contact_id] = hubspot.contacts
    for n in range(600):  # other notes on the same contact, made in HubSpot
        hubspot.notes[str(900_000 + n)] = {"properties": {"hs_note_body": f"call {n}"},
                                          "contacts": [contact_id]}
    hubspot.notes[str(1_000_000)] = hubspot.notes.pop(next(iter(hubspot.notes)))
    HubSpotAdapter(hubspot_settings(hubspot.url)).deliver(close)
    assert len(hubspot.notes) == 601


def test_check_names_the_missing_visitor_token_property(hubspot, hubspot_settings):
    adapter = HubSpotAdapter(hubspot_settings(hubspot.url))
    assert "rocketchat_visitor_token exists, unique" in adapter.check()
    other = HubSpotAdapter(hubspot_settings(hubspot.url,
                                            RECEIVER_HUBSPOT_TOKEN_PROPERTY="rc_token"))
    with pytest.raises(Exception, match="RECEIVER_HUBSPOT_TOKEN_PROPERTY"):
        other.check()


def test_the_token_is_required_at_start_up():
    with pytest.raises(ConfigError, match="RECEIVER_HUBSPOT_TOKEN is required"):
        load_settings({"ROCKETCHAT_LIVECHAT_TOKEN": "t", "RECEIVER_ADAPTERS": "hubspot"})


# With search lagging writes and every other write's answer lost, as HubSpot can be.

HOSTILE = {"RECEIVER_LEASE_SECONDS": "4", "RECEIVER_HTTP_TIMEOUT": "1",
           "RECEIVER_HUBSPOT_SEARCH_LAG_SECONDS": "0.5"}


@pytest.fixture
def hostile():
    with FakeHubSpot(search_lag=0.3, lose_every=2) as fake:
        yield fake


class TestHubSpotContractWithLagAndLostAnswers(OrderOfNotes, AdapterContract):
    @pytest.fixture(autouse=True)
    def _fake(self, hostile, hubspot_settings):
        self.hubspot, self.settings = hostile, hubspot_settings

    def make_adapter(self):
        return Redelivering(HubSpotAdapter(self.settings(self.hubspot.url, **HOSTILE)))

    def delivered_ids(self):
        return delivered_to(self.hubspot)

    def test_delivering_twice_leaves_one_contact_and_one_note(self):
        self.test_delivering_twice_is_harmless()
        assert len(self.hubspot.contacts) == 1 and len(self.hubspot.notes) == 1
        assert self.hubspot.lost.lost >= 1


def test_identifiers_in_any_order_make_one_contact_each_despite_lag_and_lost_answers(
        hostile, hubspot_settings):
    # Two workers, alternating, so neither's memory carries a visitor from event to event.
    workers = [Redelivering(HubSpotAdapter(hubspot_settings(hostile.url, **HOSTILE)))
               for _ in range(2)]
    for n, order in enumerate(ORDERS):
        for step, each in enumerate(visits(order, n)):
            assert isinstance(workers[step % 2].deliver(each), Delivered), (order, step)
    for worker in workers:
        worker.close()
    assert hostile.lost.lost >= 5
    assert len(hostile.contacts) == len(ORDERS)
    for contact_id, contact in hostile.contacts.items():
        notes = [note["hs_note_body"] for note in hostile.notes_of(contact_id)]
        assert len(notes) == 2, contact  # one per conversation
        assert contact["email"] and contact["phone"] and contact["rocketchat_visitor_token"]


def test_a_token_rotated_early_fails_for_good_naming_the_setting(hubspot, adapter):
    adapter.deliver(sample_events()["e-livechat-session-start"])
    hubspot.rotate_token()
    outcome = adapter.deliver(event("e-livechat-session-start", phones=["+5511999990000"]))
    assert isinstance(outcome, Failed) and "RECEIVER_HUBSPOT_TOKEN" in outcome.reason


def test_search_over_its_limit_is_retried(hubspot, adapter):
    with freeze_time():  # six searches within the same second, however slow the machine
        outcomes = [adapter.deliver(event("e-livechat-session-start", emails=[],
                                          phones=[f"+55119{n:08d}"], token=None))
                    for n in range(6)]
    assert all(isinstance(outcome, Delivered) for outcome in outcomes[:5])
    assert isinstance(outcomes[5], RetryLater) and "HubSpot HTTP 429" in outcomes[5].reason


def test_an_email_another_contact_holds_is_left_with_it(hubspot, adapter):
    adapter.deliver(event("e-livechat-session-start", emails=[], phones=["+5511999990000"]))
    [mine] = hubspot.contacts
    theirs = hubspot.add_contact(email="maria@example.com", lastname="Souza")
    outcome = adapter.deliver(sample_events()["e-livechat-session-close"])
    assert isinstance(outcome, Delivered) and outcome.references["contact_id"] == mine
    assert "email" not in hubspot.contacts[mine]
    assert hubspot.contacts[theirs] == {"email": "maria@example.com", "lastname": "Souza"}


def test_a_contact_deleted_in_hubspot_is_matched_afresh_not_dead_lettered(hubspot, adapter):
    """A 404 where no caller expects one is retried (the next attempt matches the visitor
    again), not raised as an adapter bug that becomes a dead letter after three tries."""
    assert isinstance(adapter.deliver(sample_events()["e-livechat-session-start"]), Delivered)
    with pytest.raises(Transient, match="HubSpot has no record"):
        adapter.client.update_contact("404404", {"firstname": "Maria"})
    (gone,) = list(hubspot.contacts)
    del hubspot.contacts[gone]  # an operator deleted it in HubSpot
    hubspot.index()
    assert isinstance(adapter.deliver(event("e-livechat-session-start", name="Maria S. Silva")),
                      Delivered)
    assert len(hubspot.contacts) == 1 and gone not in hubspot.contacts
