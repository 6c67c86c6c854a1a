"""The `zoho` adapter against a local fake of Zoho's accounts server and CRM API (v8)."""

from datetime import timedelta

import pytest
from freezegun import freeze_time

from receiver.adapters import Delivered, Failed, RetryLater
from receiver.adapters.zoho import ZohoAdapter
from receiver.adapters.zoho.settings import DATA_CENTERS, ZohoSettings
from receiver.config import ConfigError, load_settings
from receiver.testing import AdapterContract, sample_events

from .builders import sample_with as event
from .fakes.zoho import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeZoho
from .redeliver import Redelivering
from .references import OrderOfNotes, referenced_event_ids
from .returning_visitors import ORDERS, visits

def zoho_environ(url, **environ):
    return {"ROCKETCHAT_LIVECHAT_TOKEN": "t", "RECEIVER_ADAPTERS": "zoho",
            "RECEIVER_ZOHO_CLIENT_ID": CLIENT_ID, "RECEIVER_ZOHO_CLIENT_SECRET": CLIENT_SECRET,
            "RECEIVER_ZOHO_REFRESH_TOKEN": REFRESH_TOKEN, "RECEIVER_ZOHO_ACCOUNTS_URL": url,
            **environ}


@pytest.fixture
def make(store_url):
    """Builds a `zoho` adapter for the Zoho at `url`, keeping its links in the test's own store."""

    def build(url, **environ):
        return ZohoAdapter(load_settings(zoho_environ(url, DATABASE_URL=store_url, **environ)))

    return build


def delivered_to(zoho) -> list[str]:
    """The event ids Zoho's notes name, in the order the notes were added."""
    return referenced_event_ids(note["Note_Content"] for note in zoho.notes.values())


@pytest.fixture
def zoho():
    with FakeZoho(unique_fields=("Email", "Visitor_Token"), extra_fields=("CPF",)) as fake:
        yield fake


@pytest.fixture
def adapter(zoho, make):
    adapter = make(zoho.url)
    yield adapter
    adapter.close()


class TestZohoContract(OrderOfNotes, AdapterContract):
    @pytest.fixture(autouse=True)
    def _fake(self, zoho, make):
        self.zoho, self.make = zoho, make

    def make_adapter(self):
        return self.make(self.zoho.url)

    def delivered_ids(self):
        return delivered_to(self.zoho)


def test_a_closed_chat_is_a_contact_with_its_transcript_as_a_note(zoho, adapter):
    outcome = adapter.deliver(sample_events()["e-livechat-session-close"])
    assert isinstance(outcome, Delivered)
    [(record_id, record)] = zoho.records["Contacts"].items()
    assert record == {"First_Name": "Maria", "Last_Name": "Silva", "Email": "maria@example.com",
                      "Phone": "+5511999990000", "Lead_Source": "Chat"}
    [note] = zoho.notes_of("Contacts", record_id)
    assert note["Note_Title"] == "Rocket.Chat chat with Maria Silva, 2025-03-04 10:15:02 UTC"
    for fact in ("Agent: John Doe (john.doe) <john.doe@example.com>", "Tags: delivery, refund",
                 "Closed: 2025-03-04 10:31:48 UTC by the agent",
                 "[2025-03-04 10:30:12 UTC] John Doe (john.doe) (agent): Refund issued, sorry!",
                 "Rocket.Chat reference: [conversation r7XkPq2mZ4nLb8sT3]"):
        assert fact in note["Note_Content"], fact
    assert outcome.references == {"module": "Contacts", "record_id": record_id,
                                  "note_id": next(iter(zoho.notes))}


def test_redelivery_by_a_fresh_worker_updates_instead_of_duplicating(zoho, make):
    close = sample_events()["e-livechat-session-close"]
    for _ in range(3):
        assert isinstance(make(zoho.url).deliver(close), Delivered)
    assert len(zoho.records["Contacts"]) == 1 and len(zoho.notes) == 1


def test_the_access_token_is_reused_until_it_expires(zoho, make):
    with freeze_time("2025-03-04 10:00:00") as clock:
        adapter = make(zoho.url)
        adapter.deliver(sample_events()["e-livechat-session-start"])
        adapter.deliver(event("e-livechat-session-start", name="Maria Souza"))
        assert zoho.token_grants == 1
        clock.tick(timedelta(minutes=59, seconds=30))  # inside the last minute: renew early
        adapter.deliver(event("e-livechat-session-start", name="Maria Santos"))
        assert zoho.token_grants == 2


def test_a_token_rejected_early_is_renewed_once_and_the_call_repeated(zoho, adapter):
    adapter.deliver(sample_events()["e-livechat-session-start"])
    zoho.revoke_tokens()
    outcome = adapter.deliver(event("e-livechat-session-start", phones=["+5511999990000"]))
    assert isinstance(outcome, Delivered) and zoho.token_grants == 2
    [record] = zoho.records["Contacts"].values()
    assert record["Phone"] == "+5511999990000"


def test_a_revoked_refresh_token_fails_for_good_naming_the_setting(zoho, make):
    outcome = make(zoho.url, RECEIVER_ZOHO_REFRESH_TOKEN="1000.revoked").deliver(
        sample_events()["e-livechat-session-start"])
    assert isinstance(outcome, Failed)
    assert "RECEIVER_ZOHO_REFRESH_TOKEN" in outcome.reason and "invalid_code" in outcome.reason


def test_a_wrong_client_fails_for_good_naming_the_settings(zoho, make):
    outcome = make(zoho.url, RECEIVER_ZOHO_CLIENT_SECRET="nope").deliver(
        sample_events()["e-livechat-session-start"])
    assert isinstance(outcome, Failed) and "RECEIVER_ZOHO_CLIENT_SECRET" in outcome.reason


def test_rate_limits_and_outages_are_retried(zoho, adapter):
    adapter.deliver(sample_events()["e-livechat-session-start"])  # holds a token now
    zoho.answer(429, {"code": "TOO_MANY_REQUESTS", "details": {}, "message": "too many requests",
                      "status": "error"})
    outcome = adapter.deliver(event("e-livechat-session-start", name="Maria Souza"))
    assert isinstance(outcome, RetryLater) and outcome.delay == 60.0
    assert outcome.reason.startswith("Zoho CRM HTTP 429: TOO_MANY_REQUESTS")
    zoho.answer(500, {"code": "INTERNAL_ERROR", "details": {}, "message": "oops",
                      "status": "error"}, {"Retry-After": "5"})
    outcome = adapter.deliver(event("e-livechat-session-start", name="Maria Sousa"))
    assert isinstance(outcome, RetryLater) and outcome.delay == 5.0


def test_a_scope_the_token_lacks_fails_for_good(zoho, adapter):
    adapter.deliver(sample_events()["e-livechat-session-start"])
    zoho.answer(401, {"code": "OAUTH_SCOPE_MISMATCH", "details": {},
                      "message": "invalid oauth scope to access this URL", "status": "error"})
    outcome = adapter.deliver(event("e-livechat-session-start", name="Maria Souza"))
    assert isinstance(outcome, Failed) and "OAUTH_SCOPE_MISMATCH" in outcome.reason
    assert "RECEIVER_ZOHO_REFRESH_TOKEN" in outcome.reason


def test_a_record_zoho_refuses_is_a_dead_letter_naming_the_field(zoho, make):
    adapter = make(zoho.url, RECEIVER_ZOHO_CUSTOM_FIELDS="cpf=No_Such_Field")
    outcome = adapter.deliver(sample_events()["e-livechat-session-close"])
    assert isinstance(outcome, Failed) and "INVALID_DATA" in outcome.reason
    assert "No_Such_Field" in outcome.reason


def test_leads_can_be_the_module(zoho, make):
    make(zoho.url, RECEIVER_ZOHO_MODULE="Leads").deliver(sample_events()["e-livechat-session-close"])
    [record] = zoho.records["Leads"].values()
    assert record["Company"] == "Unknown" and not zoho.records["Contacts"]


def test_an_offline_message_is_a_lead_with_a_note_once(zoho, adapter, make):
    offline = sample_events()["e-offline-message"]
    adapter.deliver(offline)
    make(zoho.url).deliver(offline)
    [(lead_id, lead)] = zoho.records["Leads"].items()
    assert lead["Email"] == "carlos@example.com" and lead["Last_Name"] == "Lima"
    [note] = zoho.notes_of("Leads", lead_id)
    assert note["Note_Content"].startswith("Please call me back tomorrow.")


def test_the_visitor_token_field_matches_visitors_without_email(zoho, make):
    adapter = make(zoho.url, RECEIVER_ZOHO_VISITOR_TOKEN_FIELD="Visitor_Token")
    anonymous = event("e-livechat-session-start", emails=[], phones=[])
    adapter.deliver(anonymous)
    make(zoho.url, RECEIVER_ZOHO_VISITOR_TOKEN_FIELD="Visitor_Token").deliver(anonymous)
    [record] = zoho.records["Contacts"].values()
    assert record["Visitor_Token"] == "c9f1e0d2-4b7a-4e1f-9a3c-1d2e3f4a5b6c"


def test_without_email_a_visitor_is_matched_by_phone(zoho, make):
    by_phone = event("e-livechat-session-start", emails=[], phones=["+5511999990000"])
    make(zoho.url).deliver(by_phone)
    make(zoho.url).deliver(by_phone)
    assert len(zoho.records["Contacts"]) == 1


def test_an_unmatchable_visitor_waits_for_the_close_which_then_fails_naming_the_setting(
        zoho, adapter):
    passing = adapter.deliver(sample_events()["e-message-visitor"])  # no email in a Message
    assert isinstance(passing, Delivered) and "no email or phone" in passing.detail
    outcome = adapter.deliver(event("e-livechat-session-close", emails=[], phones=[]))
    assert isinstance(outcome, Failed) and "RECEIVER_ZOHO_VISITOR_TOKEN_FIELD" in outcome.reason
    assert not zoho.records["Contacts"]


def test_a_note_deleted_in_zoho_is_written_again(zoho, adapter):
    close = sample_events()["e-livechat-session-close"]
    adapter.deliver(close)
    zoho.notes.clear()
    assert isinstance(adapter.deliver(event("e-livechat-session-close", name="M Silva")), Delivered)
    assert len(zoho.notes) == 1


def test_test_events_are_skipped_unless_asked(zoho, make):
    sample = sample_events()["webhook-test-sample"]
    assert "RECEIVER_ZOHO_INCLUDE_TEST" in make(zoho.url).deliver(sample).detail
    assert zoho.requests == []
    assert isinstance(make(zoho.url, RECEIVER_ZOHO_INCLUDE_TEST="1").deliver(sample), Delivered)
    assert len(zoho.notes) == 1


def test_check_proves_token_scope_and_domain(zoho, make):
    assert "lets it read Contacts" in make(zoho.url).check()
    with pytest.raises(Exception, match="invalid_code"):
        make(zoho.url, RECEIVER_ZOHO_REFRESH_TOKEN="bad").check()


def test_the_data_center_picks_the_accounts_host():
    environ = zoho_environ("unused", RECEIVER_ZOHO_DATA_CENTER="eu")
    del environ["RECEIVER_ZOHO_ACCOUNTS_URL"]
    assert ZohoSettings.from_environ(environ).accounts_url == DATA_CENTERS["eu"][0]
    with pytest.raises(ConfigError, match="RECEIVER_ZOHO_DATA_CENTER"):
        ZohoSettings.from_environ({**environ, "RECEIVER_ZOHO_DATA_CENTER": "mars"})


def test_credentials_are_required_at_start_up():
    with pytest.raises(ConfigError, match="RECEIVER_ZOHO_CLIENT_ID, RECEIVER_ZOHO_CLIENT_SECRET"):
        load_settings({"ROCKETCHAT_LIVECHAT_TOKEN": "t", "RECEIVER_ADAPTERS": "zoho",
                       "RECEIVER_ZOHO_REFRESH_TOKEN": "x"})


# With search lagging writes and every other write's answer lost, as Zoho can be.

HOSTILE = {"RECEIVER_LEASE_SECONDS": "4", "RECEIVER_HTTP_TIMEOUT": "1",
           "RECEIVER_ZOHO_SEARCH_LAG_SECONDS": "0.5"}


@pytest.fixture
def hostile():
    # No unique field at all: nothing but search (which lags) can find a record.
    with FakeZoho(unique_fields=(), search_lag=0.3, lose_every=2, lost_how="reset") as fake:
        yield fake


class TestZohoContractWithLagAndLostAnswers(OrderOfNotes, AdapterContract):
    @pytest.fixture(autouse=True)
    def _fake(self, hostile, make):
        self.zoho, self.make = hostile, make

    def make_adapter(self):
        return Redelivering(self.make(self.zoho.url, **HOSTILE))

    def delivered_ids(self):
        return delivered_to(self.zoho)

    def test_delivering_twice_leaves_one_record_and_one_note(self):
        self.test_delivering_twice_is_harmless()
        assert len(self.zoho.records["Contacts"]) == 1 and len(self.zoho.notes) == 1
        assert self.zoho.lost.lost >= 1


def test_identifiers_in_any_order_make_one_record_each_despite_lag_and_lost_answers(hostile, make):
    workers = [Redelivering(make(hostile.url, **HOSTILE)) for _ in range(2)]
    for n, order in enumerate(ORDERS):
        for step, each in enumerate(visits(order, n)):
            assert isinstance(workers[step % 2].deliver(each), Delivered), (order, step)
    for worker in workers:
        worker.close()
    assert hostile.lost.lost >= 5
    assert len(hostile.records["Contacts"]) == len(ORDERS)
    for record_id, record in hostile.records["Contacts"].items():
        assert len(hostile.notes_of("Contacts", record_id)) == 2, record
        assert record["Email"] and record["Phone"]


def test_an_eleventh_access_token_in_ten_minutes_is_refused_and_retried(zoho, make):
    # A visitor each: a visitor already synced would cost no call, and so no token.
    def visitor(n):
        return event("e-livechat-session-start", emails=[f"visitor{n}@example.com"],
                     token=f"token-{n}")
    for n in range(10):
        make(zoho.url).deliver(visitor(n))
    assert zoho.token_grants == 10
    outcome = make(zoho.url).deliver(visitor(10))
    assert isinstance(outcome, RetryLater) and "too many requests" in outcome.reason
    assert outcome.delay == 60.0


def test_a_token_deleted_by_the_thirty_first_is_renewed(zoho, adapter, make):
    adapter.deliver(sample_events()["e-livechat-session-start"])
    with freeze_time() as clock:
        for _ in range(30):  # other clients of the same refresh token, over an hour
            clock.tick(timedelta(minutes=2))
            make(zoho.url).tokens.refresh()
    outcome = adapter.deliver(event("e-livechat-session-start", phones=["+5511999990000"]))
    assert isinstance(outcome, Delivered) and zoho.token_grants == 32


def test_the_last_name_placeholder_gives_way_to_the_name_given_later(zoho, adapter):
    adapter.deliver(event("e-livechat-session-start", name=None))  # only guest-1042 so far
    [record] = zoho.records["Contacts"].values()
    assert record["Last_Name"] == "Visitor" and "First_Name" not in record
    adapter.deliver(event("e-livechat-session-start", name="Maria Silva"))
    assert (record["First_Name"], record["Last_Name"]) == ("Maria", "Silva")
