"""The matching rules of `receiver.adapters.matching`, as a table, against each CRM's fake.

Each row: what the CRM holds, what the visitor gives, the record chosen and what it holds
afterwards, and whether the note warns that the name differs.
"""

import html
from dataclasses import dataclass, field

import pytest

from receiver.adapters import Delivered
from receiver.adapters.hubspot import HubSpotAdapter
from receiver.adapters.matching import fields_to_write, names_differ
from receiver.adapters.zoho import ZohoAdapter
from receiver.config import ConfigError, load_settings

from .builders import sample_with
from .fakes.hubspot import TOKEN as HUBSPOT_TOKEN
from .fakes.hubspot import FakeHubSpot
from .fakes.zoho import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeZoho

T, E, P = "token-ana", "ana@example.com", "+5511988887777"


@dataclass(frozen=True)
class Rule:
    """One row of the table; records are written with neutral names (see FIELDS)."""

    found: str  # the identifier found, as the table in matching.py names it
    held: list  # records in the CRM before
    gives: dict  # the visitor's token, email, phone and name
    chosen: object  # index into held, "earlier" (made by `earlier`), or "new"
    after: dict  # the chosen record's fields afterwards
    earlier: dict | None = None  # an earlier event of the same visitor
    indexed: bool = True  # whether search has caught up with `held`
    cautions: bool = False
    overwrite: tuple = field(default=())


RULES = [
    Rule("a remembered link", held=[], earlier={"token": T, "phone": P, "name": "Ana Lima"},
         gives={"token": T, "email": E, "name": "Ana Lima"}, chosen="earlier",
         after={"token": T, "phone": P, "email": E, "first": "Ana", "last": "Lima"}),
    Rule("the visitor token", held=[{"token": T, "last": "Held"}],
         gives={"token": T, "email": E, "name": "Ana Lima"}, chosen=0,
         after={"token": T, "email": E, "first": "Ana", "last": "Held"}),
    Rule("the email", held=[{"email": E, "first": "Carol", "last": "Chief", "phone": "+1555",
                             "token": "carols-token"}],
         gives={"token": T, "email": E, "phone": P, "name": "Mallory Attacker"}, chosen=0,
         after={"email": E, "first": "Carol", "last": "Chief", "phone": "+1555",
                "token": "carols-token"}, cautions=True),
    Rule("the phone", held=[{"phone": P, "first": "Ana", "last": "Lima"}],
         gives={"token": T, "phone": P, "name": "Ana Lima"}, chosen=0,
         after={"token": T, "phone": P, "first": "Ana", "last": "Lima"}),
    Rule("the phone, of someone else", held=[{"phone": P, "last": "Other"}],
         gives={"token": T, "phone": P, "name": "Ana Lima"}, chosen=0,
         after={"token": T, "phone": P, "first": "Ana", "last": "Other"}, cautions=True),
    Rule("nothing", held=[], gives={"token": T, "email": E, "phone": P, "name": "Ana Lima"},
         chosen="new", after={"token": T, "email": E, "phone": P, "first": "Ana",
                              "last": "Lima"}),
    Rule("a unique field taken, search behind", held=[{"email": E, "last": "Held"}],
         indexed=False, gives={"email": E, "name": "Ana Lima"}, chosen=0,
         after={"email": E, "first": "Ana", "last": "Held"}, cautions=True),
    Rule("the email, names opted in", held=[{"email": E, "first": "Old", "last": "Name"}],
         gives={"email": E, "name": "Ana Lima"}, chosen=0, overwrite=("first", "last"),
         after={"email": E, "first": "Ana", "last": "Lima"}, cautions=True),
]


class HubSpotWorld:
    """The HubSpot fake and adapter, with neutral field names."""

    FIELDS = {"token": "rocketchat_visitor_token", "email": "email", "phone": "phone",
              "first": "firstname", "last": "lastname"}

    def __init__(self, fake: FakeHubSpot, database_url: str):
        self.fake, self.database_url = fake, database_url

    def adapter(self, overwrite=()):
        return HubSpotAdapter(load_settings({
            "ROCKETCHAT_LIVECHAT_TOKEN": "t", "RECEIVER_ADAPTERS": "hubspot",
            "DATABASE_URL": self.database_url, "RECEIVER_HUBSPOT_TOKEN": HUBSPOT_TOKEN,
            "RECEIVER_HUBSPOT_API_URL": self.fake.url,
            "RECEIVER_HUBSPOT_OVERWRITE_FIELDS": ",".join(self.FIELDS[f] for f in overwrite)}))

    def add(self, **neutral) -> str:
        return self.fake.add_contact(**{self.FIELDS[k]: v for k, v in neutral.items()})

    def records(self) -> dict:
        return {i: self.neutral(fields) for i, fields in self.fake.contacts.items()}

    def note(self, record_id: str) -> str:
        [note] = self.fake.notes_of(record_id)
        return html.unescape(note["hs_note_body"])

    def neutral(self, fields: dict) -> dict:
        names = {crm: neutral for neutral, crm in self.FIELDS.items()}
        return {names[k]: v for k, v in fields.items() if k in names}


class ZohoWorld(HubSpotWorld):
    """The Zoho fake (with a unique visitor-token field) and adapter, with neutral names."""

    FIELDS = {"token": "Visitor_Token", "email": "Email", "phone": "Phone",
              "first": "First_Name", "last": "Last_Name"}

    def adapter(self, overwrite=()):
        return ZohoAdapter(load_settings({
            "ROCKETCHAT_LIVECHAT_TOKEN": "t", "RECEIVER_ADAPTERS": "zoho",
            "DATABASE_URL": self.database_url, "RECEIVER_ZOHO_CLIENT_ID": CLIENT_ID,
            "RECEIVER_ZOHO_CLIENT_SECRET": CLIENT_SECRET,
            "RECEIVER_ZOHO_REFRESH_TOKEN": REFRESH_TOKEN,
            "RECEIVER_ZOHO_ACCOUNTS_URL": self.fake.url,
            "RECEIVER_ZOHO_VISITOR_TOKEN_FIELD": "Visitor_Token",
            "RECEIVER_ZOHO_OVERWRITE_FIELDS": ",".join(self.FIELDS[f] for f in overwrite)}))

    def add(self, **neutral) -> str:
        return self.fake.add_record("Contacts", **{self.FIELDS[k]: v for k, v in neutral.items()})

    def records(self) -> dict:
        return {i: self.neutral(fields) for i, fields in self.fake.records["Contacts"].items()}

    def note(self, record_id: str) -> str:
        [note] = self.fake.notes_of("Contacts", record_id)
        return note["Note_Content"]


@pytest.fixture(params=["hubspot", "zoho"])
def world(request, store_url):
    if request.param == "hubspot":
        with FakeHubSpot() as fake:
            yield HubSpotWorld(fake, store_url)
    else:
        with FakeZoho(unique_fields=("Email", "Visitor_Token")) as fake:
            yield ZohoWorld(fake, store_url)


def visitor_event(sample: str, gives: dict) -> dict:
    return sample_with(sample, token=gives.get("token"), name=gives["name"], username=None,
                       emails=[gives["email"]] if "email" in gives else [],
                       phones=[gives["phone"]] if "phone" in gives else [])


@pytest.mark.parametrize("rule", RULES, ids=[rule.found for rule in RULES])
def test_the_matching_table(world, rule):
    held = [world.add(**fields) for fields in rule.held]
    if rule.indexed:
        world.fake.index()
    adapter = world.adapter(rule.overwrite)
    if rule.earlier:
        assert isinstance(adapter.deliver(visitor_event("e-livechat-session-start",
                                                        rule.earlier)), Delivered)
    before = set(world.records())
    outcome = adapter.deliver(visitor_event("e-livechat-session-close", rule.gives))
    adapter.close()
    assert isinstance(outcome, Delivered), outcome
    records = world.records()
    chosen = outcome.references.get("contact_id") or outcome.references.get("record_id")
    if rule.chosen == "new":
        assert set(records) - before == {chosen}
    elif rule.chosen == "earlier":
        assert set(records) == before == {chosen}
    else:
        assert chosen == held[rule.chosen] and set(records) == set(held)
    assert records[chosen] == rule.after
    note = world.note(chosen)
    assert ("Unverified identity" in note) == rule.cautions
    if rule.cautions:
        assert f"the visitor gave the name \"{rule.gives['name']}\"" in note
        assert "Chat identities are not verified" in note


FIELD_RULES = [
    # held, wanted, overwrite, written
    ({}, {"a": "1"}, (), {"a": "1"}),
    ({"a": ""}, {"a": "1"}, (), {"a": "1"}),
    ({"a": None}, {"a": "1"}, (), {"a": "1"}),
    ({"a": "0"}, {"a": "1"}, (), {}),
    ({"a": "0"}, {"a": "1"}, ("a",), {"a": "1"}),
    ({"a": "1"}, {"a": "1"}, ("a",), {}),
    ({"token": "mine"}, {"token": "theirs"}, ("token",), {}),
    ({"last": "Visitor"}, {"last": "Lima"}, (), {"last": "Lima"}),  # a placeholder
    ({"last": "Visitor"}, {"last": "Visitor"}, (), {}),
]


@pytest.mark.parametrize("held, wanted, overwrite, written", FIELD_RULES)
def test_only_empty_or_opted_in_fields_are_written(held, wanted, overwrite, written):
    assert fields_to_write(held, wanted, overwrite, protected={"token"},
                           placeholders={"last": "Visitor"}) == written


@pytest.mark.parametrize("held, given, differ", [
    ("Carol Chief", "Mallory Attacker", True), ("Ana  Lima", "ana lima", False),
    (None, "Ana Lima", False), ("Ana Lima", None, False)])
def test_names_differ_ignoring_case_and_spacing(held, given, differ):
    assert names_differ(held, given) is differ


@pytest.mark.parametrize("adapter, variable, token_variable", [
    ("hubspot", "RECEIVER_HUBSPOT_OVERWRITE_FIELDS", None),
    ("zoho", "RECEIVER_ZOHO_OVERWRITE_FIELDS", "RECEIVER_ZOHO_VISITOR_TOKEN_FIELD")])
def test_the_token_field_cannot_be_opted_in_to_overwrites(adapter, variable, token_variable):
    environ = {"ROCKETCHAT_LIVECHAT_TOKEN": "t", "RECEIVER_ADAPTERS": adapter,
               "RECEIVER_HUBSPOT_TOKEN": "pat", "RECEIVER_ZOHO_CLIENT_ID": "c",
               "RECEIVER_ZOHO_CLIENT_SECRET": "s", "RECEIVER_ZOHO_REFRESH_TOKEN": "r",
               variable: "firstname,Visitor_Token,rocketchat_visitor_token"}
    if token_variable:
        environ[token_variable] = "Visitor_Token"
    with pytest.raises(ConfigError, match="only ever set on a record that has none"):
        load_settings(environ)


class ClaimedElsewhere:
    """Links where another delivery claimed the visitor's record `seconds_ago`."""

    def __init__(self, claim_seconds: float, seconds_ago: float):
        self.claim_seconds, self.seconds_ago = claim_seconds, seconds_ago

    def claim_all(self, scope, claims, until):
        from datetime import timedelta

        from receiver import clock
        from receiver.store.identities import Taken

        return [Taken(clock.now() + timedelta(seconds=self.claim_seconds - self.seconds_ago))
                for _ in claims]


class Contacts:
    scope = "hubspot:contacts"
    placeholders = {}


@pytest.mark.parametrize("seconds_ago, delay", [
    (0.2, 0.5),    # its create is under way, most likely in another worker's batch
    (14.0, 0.5),   # still within that delivery's time budget
    (20.0, 2.0),   # past it: the answer was lost; look again now and then
    (59.0, 1.0),   # until the claim runs out, when search shows the record if it was made
])
def test_a_visitor_claimed_elsewhere_is_tried_again_soon_while_the_create_is_under_way(
        seconds_ago, delay):
    from freezegun import freeze_time

    from receiver.adapters.api import Transient
    from receiver.adapters.matching import Matcher, Unfound

    matcher = Matcher(ClaimedElsewhere(60.0, seconds_ago), search_lag=60.0, budget=15.0)
    visitor = Unfound(["digest"], {}, {})
    with freeze_time("2025-03-04T12:00:00Z"), pytest.raises(Transient) as retry:
        (claim,) = matcher.claim_all(Contacts.scope, [visitor])
        matcher.claimed(Contacts(), None, visitor, claim)
    assert retry.value.delay == pytest.approx(delay)
