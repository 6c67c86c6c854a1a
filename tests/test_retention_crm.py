"""`receiver prune` and the CRM tables: note ids, visitor links and closed breakers go once
nothing in the store needs them, and a pruned visitor link costs only look-ups."""

import copy
from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from receiver import cli
from receiver.adapters import Delivered
from receiver.store import breakers, crm_notes, identities, pauses, retention
from receiver.store.db import make_engine
from receiver.store.identities import digest
from receiver.store.tables import adapter_breakers
from receiver.store.transactions import transaction
from receiver.testing import sample_events

from .builders import payload
from .crm_adapters import hubspot_adapter, zoho_adapter
from .fakes.hubspot import FakeHubSpot
from .fakes.zoho import FakeZoho
from .returning_visitors import ORDERS, visits
from .stored import count

JANUARY = datetime(2025, 1, 1, tzinfo=timezone.utc)
FEBRUARY = datetime(2025, 2, 1, tzinfo=timezone.utc)
PRUNE_DAY = datetime(2025, 2, 15, tzinfo=timezone.utc)
CUTOFF = PRUNE_DAY - timedelta(days=30)
ROOM = "r7XkPq2mZ4nLb8sT3"  # the conversation of the shipped message samples


def message(n: int, room: str = ROOM) -> dict:
    body = payload("e-message-visitor")
    body["messages"][0]["_id"] = f"crm-retention{n}"
    body["_id"] = body["messages"][0]["rid"] = room
    return body


def remember_note(engine, marker: str, when: datetime, scope: str = "hubspot") -> None:
    with transaction(engine) as conn:
        crm_notes.remember(conn, scope, {marker: "note-1"}, when)


def notes_kept(engine, *markers: str, scope: str = "hubspot") -> set[str]:
    with engine.connect() as conn:
        return set(crm_notes.known(conn, scope, list(markers)))


def conversation(room: str = ROOM) -> str:
    return crm_notes.conversation_marker(room)


def prune(runner, *options: str):
    with freeze_time(PRUNE_DAY):
        result = runner.invoke(cli.main, ["prune", "--older-than", "30d", *options])
    assert result.exit_code == 0, result.output
    return result.output


# Note ids ----------------------------------------------------------------------------------

def test_a_note_id_goes_with_the_last_event_of_its_conversation(post, runner, engine, worker):
    with freeze_time(JANUARY):
        delivered = post(message(1)).get_json()["id"]
        worker.step()
        offline = post(payload("e-offline-message")).get_json()["id"]
        worker.step()
    for marker in (conversation(), crm_notes.event_marker(offline), conversation("gone-room")):
        remember_note(engine, marker, JANUARY)
    assert delivered

    dry = prune(runner, "--dry-run")
    assert "would forget the CRM note ids of 3 conversation(s) and offline message(s)" in dry
    assert count(engine, "crm_notes") == 3
    output = prune(runner)
    assert "pruned 2 event(s)" in output
    assert "forgot the CRM note ids of 3 conversation(s) and offline message(s) with no event " \
           "left, not written since 2025-01-16 00:00 UTC" in output
    assert count(engine, "crm_notes") == 0


def test_a_note_id_stays_while_its_conversation_has_an_event_left(post, runner, engine, worker):
    with freeze_time(JANUARY):
        post(message(1))
        worker.step()
        post(message(2, room="waiting-room"))  # never delivered: pending
        offline = post(payload("e-offline-message")).get_json()["id"]
    remember_note(engine, conversation(), JANUARY)
    remember_note(engine, conversation("waiting-room"), JANUARY)
    remember_note(engine, crm_notes.event_marker(offline), JANUARY)
    with freeze_time(FEBRUARY):
        post(message(3))  # the conversation goes on: its note is rewritten by later events

    assert "forgot the CRM note ids of 0 conversation(s)" in prune(runner)
    assert notes_kept(engine, conversation(), conversation("waiting-room"),
                      crm_notes.event_marker(offline)) == {
        conversation(), conversation("waiting-room"), crm_notes.event_marker(offline)}


def test_a_note_id_written_within_the_period_stays_without_events(runner, engine):
    remember_note(engine, conversation("a-room"), FEBRUARY)
    remember_note(engine, conversation("a-room"), JANUARY, scope="zoho/Contacts")
    assert "forgot the CRM note ids of 1 conversation(s)" in prune(runner)
    assert notes_kept(engine, conversation("a-room")) == {conversation("a-room")}
    assert notes_kept(engine, conversation("a-room"), scope="zoho/Contacts") == set()


def test_a_note_id_of_a_conversation_that_speaks_again_during_the_prune_stays(
        post, engine, monkeypatch):
    remember_note(engine, conversation(), JANUARY)
    remember_note(engine, conversation("quiet-room"), JANUARY)
    read_once = crm_notes.in_use

    def then_an_event_arrives(conn, **narrowed):
        found = read_once(conn, **narrowed)
        if not narrowed:  # the prune's first read of the store, before its batches
            assert post(message(1)).status_code == 200
        return found

    monkeypatch.setattr(crm_notes, "in_use", then_an_event_arrives)
    with freeze_time(PRUNE_DAY):
        assert retention.prune_notes(engine, CUTOFF, PRUNE_DAY) == 1
    assert notes_kept(engine, conversation(), conversation("quiet-room")) == {conversation()}


def test_note_ids_are_pruned_in_batches_past_the_ones_kept(post, engine):
    with freeze_time(JANUARY):
        for n in range(3):
            post(message(n, room=f"room-{n}"))  # pending: these conversations keep their notes
    for n in range(7):
        remember_note(engine, conversation(f"room-{n}"), JANUARY)
    with freeze_time(PRUNE_DAY):
        assert retention.prune_notes(engine, CUTOFF, PRUNE_DAY, batch=2) == 4
    assert count(engine, "crm_notes") == 3


# Visitor links -----------------------------------------------------------------------------

def link(engine, identifier: str, when: datetime, record_id: str | None = "1001") -> None:
    with transaction(engine) as conn:
        if record_id:
            identities.link(conn, "hubspot", [identifier], record_id, "email", when)
        else:
            identities.claim(conn, "hubspot", [identifier], "worker-a", when,
                             until=when + timedelta(days=60))


def linked(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(identities.table.c.identifier)).scalars())


def test_visitor_links_not_written_for_the_period_go(runner, engine):
    old, recent, expired, running = (digest("email", f"{n}@example.com") for n in range(4))
    link(engine, old, JANUARY)
    link(engine, recent, FEBRUARY)
    link(engine, expired, JANUARY - timedelta(days=60), record_id=None)  # a claim run out
    link(engine, running, JANUARY, record_id=None)  # claimed until March: still running
    assert "would forget the CRM records of 2 visitor identifier(s) not used since " \
           "2025-01-16 00:00 UTC" in prune(runner, "--dry-run")
    assert "forgot the CRM records of 2 visitor identifier(s)" in prune(runner)
    assert linked(engine) == {recent, running}


def test_visitor_links_are_pruned_in_batches(engine):
    for n in range(5):
        link(engine, digest("phone", f"+55{n}"), JANUARY)
    with transaction(engine) as conn:
        assert identities.prune(conn, CUTOFF, PRUNE_DAY, batch=2) == 2
    assert retention.prune(engine, CUTOFF, PRUNE_DAY).identities == 3
    assert linked(engine) == set()


@pytest.fixture
def crm_store(database_url):
    """The store the CRM adapters keep their links in, as `receiver prune` reaches it."""
    engine = make_engine(database_url)
    yield database_url, engine
    engine.dispose()


CRMS = {"hubspot": (lambda: FakeHubSpot(search_lag=0), hubspot_adapter,
                    lambda crm: crm.contacts),
        "zoho": (lambda: FakeZoho(search_lag=0), zoho_adapter,
                 lambda crm: crm.records["Contacts"])}


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("vendor", CRMS)
def test_a_returning_visitor_whose_links_were_pruned_finds_the_same_record(crm_store, vendor,
                                                                           order):
    database_url, engine = crm_store
    fake_crm, adapter_for, records = CRMS[vendor]
    first, second = (lambda events: (events[:3], events[3:]))(visits(order, 1))
    with fake_crm() as crm:
        with freeze_time(JANUARY):
            adapter = adapter_for(crm.url, database_url)
            assert all(isinstance(adapter.deliver(each), Delivered) for each in first)
            adapter.close()
        assert retention.prune(engine, CUTOFF, PRUNE_DAY).identities >= 2
        assert count(engine, "crm_identities") == 0

        adapter = adapter_for(crm.url, database_url)  # a fresh worker: nothing in memory
        assert all(isinstance(adapter.deliver(each), Delivered) for each in second)
        adapter.close()
        assert len(records(crm)) == 1  # the same record, found again, not a new one
        assert count(engine, "crm_identities") >= 2  # and linked again


def test_links_used_to_match_within_the_period_stay(crm_store):
    database_url, engine = crm_store
    close = sample_events()["e-livechat-session-close"]
    with FakeHubSpot(search_lag=0) as crm:
        for day in (JANUARY, JANUARY + timedelta(days=19), JANUARY + timedelta(days=19, hours=1)):
            with freeze_time(day):
                adapter = hubspot_adapter(crm.url, database_url)  # a fresh worker each day
                assert isinstance(adapter.deliver(close), Delivered)
                adapter.close()
    with engine.connect() as conn:  # noted as used on the 20th, and not again within the day
        used = set(conn.execute(select(identities.table.c.updated_at)).scalars())
    assert used == {JANUARY + timedelta(days=19)}
    linked_rows = count(engine, "crm_identities")
    assert linked_rows >= 2 and retention.prune(engine, CUTOFF, PRUNE_DAY).identities == 0
    assert count(engine, "crm_identities") == linked_rows


# Circuit breakers --------------------------------------------------------------------------

def trip(engine, adapter: str, when: datetime, resumed: bool = False) -> None:
    with transaction(engine) as conn:
        breakers.open_breaker(conn, adapter, when, 30, "503 for everything")
        if resumed:  # an operator resumed the adapter: the breaker no longer counts
            pauses.resume(conn, adapter, when + timedelta(minutes=5))


def test_closed_breakers_opened_before_the_period_go_and_open_ones_stay(runner, engine):
    trip(engine, "hubspot", JANUARY)
    trip(engine, "zoho", JANUARY, resumed=True)
    trip(engine, "http", FEBRUARY, resumed=True)
    assert "would delete 1 closed circuit breaker(s) opened before 2025-01-16 00:00 UTC" \
        in prune(runner, "--dry-run")
    assert "deleted 1 closed circuit breaker(s)" in prune(runner)
    with engine.connect() as conn:
        assert set(conn.execute(select(adapter_breakers.c.adapter)).scalars()) == {
            "hubspot", "http"}
        assert set(breakers.opened(conn)) == {"hubspot"}  # still paused, still probed


def test_a_breaker_opened_again_is_not_pruned(engine):
    trip(engine, "zoho", JANUARY, resumed=True)
    trip(engine, "zoho", PRUNE_DAY)
    assert retention.prune(engine, CUTOFF, PRUNE_DAY).breakers == 0
    with engine.connect() as conn:
        assert set(breakers.opened(conn)) == {"zoho"}


def returning_close(number: int) -> dict:
    """The sample chat's close, of a visitor and conversation of its own."""
    close = copy.deepcopy(sample_events()["e-livechat-session-close"])
    close["id"] = f"evt_close_{number}"
    close["conversation"]["id"] = f"room-{number}"
    close["contact"].update(token=f"token-{number}", emails=[f"visitor{number}@example.com"],
                            phones=[], name=f"Visitor {number}")
    return close


def test_a_rounds_uses_are_noted_in_one_write_after_its_links(crm_store, monkeypatch):
    """A batch's returning visitors are noted as used together, not one write per visitor."""
    database_url, engine = crm_store
    closes = [returning_close(number) for number in range(3)]
    with FakeHubSpot(search_lag=0) as crm:
        with freeze_time(JANUARY):
            adapter = hubspot_adapter(crm.url, database_url)
            assert all(isinstance(o, Delivered) for o in adapter.deliver_batch(closes))
            adapter.close()
        with freeze_time(JANUARY + timedelta(days=19)):
            adapter = hubspot_adapter(crm.url, database_url)
            touches = []
            original = adapter.matcher.links.touch
            monkeypatch.setattr(adapter.matcher.links, "touch",
                                lambda scope, keys: touches.append(keys) or original(scope, keys))
            assert all(isinstance(o, Delivered) for o in adapter.deliver_batch(closes))
            adapter.close()
    assert len(touches) == 1 and len(touches[0]) >= 3
    with engine.connect() as conn:
        used = set(conn.execute(select(identities.table.c.updated_at)).scalars())
    assert used == {JANUARY + timedelta(days=19)}
