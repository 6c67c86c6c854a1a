"""CRM write-back: the record ids adapters report come back in the 200 answer, as crmData."""

from datetime import datetime, timedelta, timezone

import pytest

from receiver import cli
from receiver.jsontext import dump_json
from receiver.store import links
from receiver.store.transactions import driver_cursor, transaction
from receiver.writeback import REFERENCES_LIMIT_BYTES, fitting

from .builders import payload
from .delivering import drain
from .fakes.hubspot import TOKEN as HUBSPOT_TOKEN
from .fakes.hubspot import FakeHubSpot
from .fakes.zoho import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeZoho
from .stored import count


@pytest.fixture
def crms(environment):
    with FakeHubSpot() as hubspot, FakeZoho() as zoho:
        environment.update(
            RECEIVER_ADAPTERS="hubspot,zoho",
            RECEIVER_HUBSPOT_TOKEN=HUBSPOT_TOKEN, RECEIVER_HUBSPOT_API_URL=hubspot.url,
            RECEIVER_ZOHO_CLIENT_ID=CLIENT_ID, RECEIVER_ZOHO_CLIENT_SECRET=CLIENT_SECRET,
            RECEIVER_ZOHO_REFRESH_TOKEN=REFRESH_TOKEN, RECEIVER_ZOHO_ACCOUNTS_URL=zoho.url)
        yield hubspot, zoho


def test_later_answers_for_a_conversation_carry_its_crm_record_ids(crms, post, worker):
    hubspot, zoho = crms
    first = post(payload("e-livechat-session-start"))
    assert first.status_code == 200 and "crm" not in first.get_json()  # nothing delivered yet
    drain(worker)
    answer = post(payload("e-message-visitor")).get_json()
    [contact_id] = hubspot.contacts
    [record_id] = zoho.records["Contacts"]
    assert answer["crm"] == {"hubspot": {"contact_id": contact_id},
                             "zoho": {"module": "Contacts", "record_id": record_id}}
    drain(worker)
    post(payload("e-livechat-session-close"))
    drain(worker)
    closed = post(payload("e-livechat-session-close"))  # Rocket.Chat retrying: a duplicate
    body = closed.get_json()
    assert body["duplicate"] is True
    assert body["crm"]["hubspot"] == {"contact_id": contact_id, "note_id": next(iter(hubspot.notes))}
    assert body["crm"]["zoho"]["note_id"] == next(iter(zoho.notes))
    assert len(closed.data) < 1024


def test_offline_messages_have_no_room_to_write_back_to(crms, post, worker, engine):
    post(payload("e-offline-message"))
    drain(worker)
    assert count(engine, "crm_links") == 0
    assert "crm" not in post(payload("e-offline-message")).get_json()


def test_adapters_without_record_ids_answer_as_before(post, worker):
    post(payload("e-livechat-session-start"))
    drain(worker)
    assert set(post(payload("e-message-visitor")).get_json()) == {"success", "id", "duplicate"}


def test_references_that_would_make_the_answer_too_big_are_left_out():
    small = {"contact_id": "101"}
    huge = {"note": "x" * REFERENCES_LIMIT_BYTES}
    assert fitting({"a": small, "b": huge, "c": small}) == {"a": small, "c": small}
    assert len(dump_json(fitting({f"crm{n}": small for n in range(100)}))) <= REFERENCES_LIMIT_BYTES


def test_links_merge_over_deliveries_and_are_pruned_when_stale(engine, runner):
    now = datetime.now(timezone.utc)
    with transaction(engine) as conn:
        links.remember(conn, "room-1", "hubspot", {"contact_id": "1"}, now - timedelta(days=40))
        links.remember(conn, "room-1", "hubspot", {"note_id": "2"}, now - timedelta(days=40))
        links.remember(conn, "room-2", "hubspot", {"contact_id": "3"}, now)
    with transaction(engine) as conn, driver_cursor(conn) as cursor:
        assert links.known(cursor, conn.dialect, "room-1") == {
            "hubspot": {"contact_id": "1", "note_id": "2"}}
    result = runner.invoke(cli.main, ["prune", "--older-than", "30d"])
    assert "forgot the CRM record ids of 1 conversation link(s)" in result.output
    assert count(engine, "crm_links") == 1
