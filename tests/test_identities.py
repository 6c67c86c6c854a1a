"""The store's links from visitor identifiers to CRM records, and claims to create one."""

import threading
from datetime import datetime, timedelta, timezone

import pytest

from receiver.store import identities
from receiver.store.identities import Taken, digest
from receiver.store.transactions import transaction

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=timezone.utc)
LATER = NOW + timedelta(seconds=60)
TOKEN, EMAIL, PHONE = digest("token", "t-1"), digest("email", "a@example.com"), \
    digest("phone", "+5511")


def claim(engine, keys, owner, now=NOW, until=LATER):
    with transaction(engine) as conn:
        return identities.claim(conn, "hubspot", keys, owner, now, until)


def known(engine, keys, scope="hubspot"):
    with engine.connect() as conn:
        return identities.known(conn, scope, keys)


def link(engine, keys, record_id, matched_by="created"):
    with transaction(engine) as conn:
        identities.link(conn, "hubspot", keys, record_id, matched_by, NOW)


def test_identifiers_are_digests_with_no_personal_data():
    assert len(EMAIL) == 64 and "example" not in EMAIL
    assert digest("email", "a@example.com") != digest("phone", "a@example.com")


def test_a_link_is_remembered_under_every_identifier_and_ends_the_claim(engine):
    assert claim(engine, [TOKEN, PHONE], "worker-a") is None
    link(engine, [TOKEN, PHONE, EMAIL], "1001", "email")
    rows = known(engine, [TOKEN, PHONE, EMAIL])
    assert {row.record_id for row in rows.values()} == {"1001"}
    assert {(row.matched_by, row.claimed_by) for row in rows.values()} == {("email", None)}
    assert known(engine, [TOKEN], scope="zoho/Contacts") == {}


def test_a_claim_is_held_against_others_until_it_runs_out(engine):
    assert claim(engine, [TOKEN, PHONE], "worker-a") is None
    with pytest.raises(Taken) as taken:
        claim(engine, [PHONE, EMAIL], "worker-b")
    assert taken.value.until == LATER
    assert EMAIL not in known(engine, [EMAIL])  # the refused claim left nothing behind
    assert claim(engine, [PHONE, EMAIL], "worker-b", now=LATER + timedelta(seconds=1)) is None
    assert {row.claimed_by for row in known(engine, [PHONE, EMAIL]).values()} == {"worker-b"}


def test_a_claim_on_a_linked_identifier_answers_with_its_record(engine):
    link(engine, [EMAIL], "1001")
    row = claim(engine, [TOKEN, EMAIL], "worker-a")
    assert row.record_id == "1001"


def test_a_released_claim_frees_its_identifiers_and_only_its_owners(engine):
    claim(engine, [TOKEN], "worker-a")
    with transaction(engine) as conn:
        identities.release(conn, "hubspot", [TOKEN], "worker-b")
    assert known(engine, [TOKEN])[TOKEN].claimed_by == "worker-a"
    with transaction(engine) as conn:
        identities.release(conn, "hubspot", [TOKEN], "worker-a")
    assert known(engine, [TOKEN]) == {}


def test_a_record_gone_from_the_crm_is_forgotten(engine):
    link(engine, [TOKEN, EMAIL], "1001")
    link(engine, [PHONE], "1002")
    with transaction(engine) as conn:
        identities.forget(conn, "hubspot", "1001")
    assert set(known(engine, [TOKEN, EMAIL, PHONE])) == {PHONE}


def test_of_two_deliveries_claiming_at_once_exactly_one_wins(engine):
    start, results = threading.Barrier(2), {}

    def race(owner, keys):
        start.wait()
        try:
            results[owner] = claim(engine, keys, owner)
        except Taken:
            results[owner] = "taken"

    threads = [threading.Thread(target=race, args=("worker-a", [TOKEN, PHONE])),
               threading.Thread(target=race, args=("worker-b", [PHONE, TOKEN, EMAIL]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(map(str, results.values())) == ["None", "taken"]


def test_a_batchs_claims_are_taken_together_each_with_its_own_answer(engine):
    other, linked, fresh = digest("token", "t-2"), digest("token", "t-3"), digest("token", "t-4")
    assert claim(engine, [other], "worker-a") is None
    link(engine, [linked], "1002")
    with transaction(engine) as conn:
        answers = identities.claim_all(conn, "hubspot", [
            ([other, EMAIL], "batch-1"),   # claimed by another delivery
            ([linked, PHONE], "batch-2"),  # linked meanwhile
            ([fresh], "batch-3"),          # nobody's
        ], NOW, LATER)
    assert isinstance(answers[0], Taken) and answers[0].until == LATER
    assert answers[1].record_id == "1002" and answers[2] is None
    rows = known(engine, [other, EMAIL, linked, PHONE, fresh])
    assert EMAIL not in rows  # the refused claim left nothing behind
    assert rows[other].claimed_by == "worker-a" and rows[fresh].claimed_by == "batch-3"
    assert rows[linked].record_id == "1002"


def test_links_written_together_end_their_claims_and_the_last_of_one_identifier_wins(engine):
    assert claim(engine, [TOKEN, EMAIL], "worker-a") is None
    with transaction(engine) as conn:
        identities.link_all(conn, "hubspot", {TOKEN: ("1001", "created", None),
                                              EMAIL: ("1001", "created", "d1 d2"),
                                              PHONE: ("1002", "phone", None)}, NOW)
    rows = known(engine, [TOKEN, EMAIL, PHONE])
    assert {key: (row.record_id, row.claimed_by, row.synced) for key, row in rows.items()} == {
        TOKEN: ("1001", None, None), EMAIL: ("1001", None, "d1 d2"), PHONE: ("1002", None, None)}
