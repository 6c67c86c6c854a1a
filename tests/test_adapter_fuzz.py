"""Every event the schemas accept maps to HubSpot and Zoho: mutated sample bodies, property-based."""

import copy
import shutil
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, assume, given, reject, settings
from hypothesis import strategies as st

from receiver.adapters import Delivered, Failed, RetryLater
from receiver.adapters.hubspot import HubSpotAdapter
from receiver.adapters.hubspot.mapping import contact_properties, offline_note, transcript_note
from receiver.adapters.hubspot.settings import HubSpotSettings
from receiver.adapters.matching import Match, keys_of
from receiver.adapters.people import from_event
from receiver.adapters.transcript import closes_conversation
from receiver.adapters.zoho import ZohoAdapter
from receiver.adapters.zoho import mapping as zoho_mapping
from receiver.adapters.zoho.settings import ZohoSettings
from receiver.config import load_settings
from receiver.dedup import dedup_key, event_id
from receiver.jsontext import dump_json
from receiver.records import json_form, to_dict
from receiver.schemas import ValidationError, parse_event
from receiver.testing import RECEIVED_AT, sample_bodies

from .fakes.hubspot import TOKEN, FakeHubSpot
from .fakes.zoho import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeZoho

# The shipped samples are the same files as Rocket.Chat's examples in the shared payloads.
BODIES = sample_bodies()
ENVIRON = {
    "ROCKETCHAT_LIVECHAT_TOKEN": "t", "RECEIVER_HUBSPOT_TOKEN": TOKEN,
    "RECEIVER_HUBSPOT_CUSTOM_FIELDS": "cpf=cpf_number", "RECEIVER_HUBSPOT_INCLUDE_TEST": "1",
    "RECEIVER_ZOHO_CLIENT_ID": CLIENT_ID, "RECEIVER_ZOHO_CLIENT_SECRET": CLIENT_SECRET,
    "RECEIVER_ZOHO_REFRESH_TOKEN": REFRESH_TOKEN, "RECEIVER_ZOHO_VISITOR_TOKEN_FIELD": "Visitor_Token",
    "RECEIVER_ZOHO_CUSTOM_FIELDS": "cpf=CPF", "RECEIVER_ZOHO_INCLUDE_TEST": "1",
}
# Shapes Rocket.Chat has sent, or a schema lets through, where another was expected.
ODD_VALUES = st.sampled_from([
    None, "", " ", [], {}, [None], [""], ["a", "b"], [{}], {"_id": "x"}, {"address": None},
    {"phoneNumber": "+1"}, 0, 1, -1, 2 ** 63, 1.5, True, False, "x" * 300, "ünï ☃ 🎉",
    "2025-03-04T10:15:03Z", "not a time", {"a": {"b": [1, None]}},
])
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])


def draw_path(draw, body: dict) -> tuple:
    """A key or index path into `body`, each level as likely as the next: one step down from
    the top, then further down or not, at random."""
    path, node = (), body
    while isinstance(node, (dict, list)):
        keys = [key for key in (node if isinstance(node, dict) else range(len(node)))
                if path or key != "type"]
        if not keys or (path and draw(st.booleans())):
            break
        key = draw(st.sampled_from(keys))
        path, node = path + (key,), node[key]
    return path


def mutate(body: dict, path: tuple, how: str, value):
    """Drop the key at `path`, keep only the `_id` of the object there, or set it to `value`."""
    *parents, last = path
    holder = body
    for key in parents:
        holder = holder[key]
    if how == "drop":
        del holder[last]
    elif how == "bare" and isinstance(holder[last], dict):
        # A deleted user or department: Rocket.Chat still sends its id, and nothing else.
        holder[last] = {key: item for key, item in holder[last].items() if key == "_id"}
    elif how != "bare":
        holder[last] = value


@st.composite
def mutated_bodies(draw):
    """A sample body with one to four keys dropped, stripped to an id, nulled or given an odd shape."""
    name = draw(st.sampled_from(sorted(BODIES)))
    body = copy.deepcopy(BODIES[name])
    for _ in range(draw(st.integers(1, 4))):
        path = draw_path(draw, body)
        if not path:
            break
        how = draw(st.sampled_from(["drop", "bare", "null", "odd"]))
        mutate(body, path, how, None if how == "null" else copy.deepcopy(draw(ODD_VALUES)))
    return body


def normalized(body: dict) -> dict:
    """The event an adapter receives for `body`, as the webhook and worker make it."""
    event = parse_event(body)
    event = replace(event, id=event_id(dedup_key(body, event)), received_at=RECEIVED_AT)
    return to_dict(event)


def accepted(body: dict) -> dict:
    """The normalized event of a body the webhook accepts; other examples are left out."""
    try:
        event = normalized(body)
    except ValidationError:
        reject()  # quarantined by the webhook: no adapter ever sees it
    assume(event["kind"] != "unknown")
    return event


@FUZZ
@given(body=mutated_bodies())
def test_stored_payload_is_the_normalized_event_as_json(body):
    """The payload the webhook stores, written by the encoder's walk, is to_dict's, byte for byte."""
    try:
        event = parse_event(body)
    except ValidationError:
        reject()
    event = replace(event, id=event_id(dedup_key(body, event)), received_at=RECEIVED_AT)
    assert dump_json(event, json_form) == dump_json(to_dict(event))


def test_json_form_refuses_what_is_not_a_record_or_time():
    with pytest.raises(TypeError, match="set has no JSON form"):
        dump_json({"tags": {"a"}}, json_form)


@FUZZ
@given(body=mutated_bodies())
def test_every_accepted_event_maps(body):
    event = accepted(body)
    hubspot = HubSpotSettings.from_environ(ENVIRON)
    zoho = ZohoSettings.from_environ(ENVIRON)
    person = from_event(event)
    keys_of(person)
    contact_properties(person, hubspot)
    for module in ("Contacts", "Leads"):
        zoho_mapping.record_fields(person, zoho, module)
    # The warning a note opens with when a typed email or phone matched someone else's record.
    caution = Match("1", "email", held_name="Carol Chief").caution(person.name)
    if event["kind"] == "offline.message":
        offline_note(event, caution)
        zoho_mapping.offline_note(event, caution)
    if closes_conversation(event):
        transcript_note(event, caution)
        zoho_mapping.transcript_note(event, caution)


@pytest.fixture(scope="module")
def adapters(migrated_sqlite_template, tmp_path_factory):
    """Both CRM adapters, each against its fake, shared by the examples: the fakes are quick."""
    store = tmp_path_factory.mktemp("fuzz-store") / "store.sqlite3"
    shutil.copy(migrated_sqlite_template, store)  # where the adapters keep their CRM links
    with FakeHubSpot(extra_properties=("cpf_number",)) as hubspot, \
            FakeZoho(unique_fields=("Email", "Visitor_Token"), extra_fields=("CPF",)) as zoho:
        environ = {**ENVIRON, "RECEIVER_HUBSPOT_API_URL": hubspot.url,
                   "RECEIVER_ZOHO_ACCOUNTS_URL": zoho.url, "DATABASE_URL": f"sqlite:///{store}"}
        built = [HubSpotAdapter(load_settings({**environ, "RECEIVER_ADAPTERS": "hubspot"})),
                 ZohoAdapter(load_settings({**environ, "RECEIVER_ADAPTERS": "zoho"}))]
        yield built
        for adapter in built:
            adapter.close()


@settings(FUZZ, max_examples=60)
@given(body=mutated_bodies())
def test_every_accepted_event_gets_an_outcome_from_the_crm_adapters(adapters, body):
    event = accepted(body)
    for adapter in adapters:
        assert isinstance(adapter.deliver(event), (Delivered, RetryLater, Failed))


def agentless(name: str) -> dict:
    """A sample whose agent is a deleted user: only its `_id` is left."""
    body = copy.deepcopy(BODIES[name])
    body["agent"] = {"_id": body["agent"]["_id"]}
    return body


@pytest.mark.parametrize("name", ["e-livechat-session-close", "b-livechat-session-close",
                                  "a-livechat-session-close", "e-livechat-edit"])
def test_a_close_whose_agent_was_deleted_maps(adapters, name):
    event = normalized(agentless(name))
    assert event["agent"]["username"] is None
    for adapter in adapters:
        assert isinstance(adapter.deliver(event), Delivered)
