"""Deliveries handed to an adapter several at once: each keeps its own outcome."""

import pytest
import requests

from receiver.adapters import Adapter, Delivered, Failed, RetryLater
from receiver.adapters.zoho import ZohoAdapter
from receiver.config import load_settings
from receiver.state import current
from receiver.store import breakers
from receiver.worker import Worker, build_worker

from .builders import payload
from .fakes.hubspot import TOKEN as HUBSPOT_TOKEN
from .fakes.hubspot import FakeHubSpot
from .fakes.zoho import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeZoho
from .stored import delivery_states


@pytest.fixture
def hubspot():
    with FakeHubSpot() as fake:
        yield fake


@pytest.fixture
def environment(environment, hubspot):
    environment.update(RECEIVER_ADAPTERS="hubspot", RECEIVER_HUBSPOT_TOKEN=HUBSPOT_TOKEN,
                       RECEIVER_HUBSPOT_API_URL=hubspot.url)
    return environment


def closed_chat(n: int, email: str) -> dict:
    """The close of conversation `n`, of a visitor of its own."""
    body = payload("e-livechat-session-close")
    body["_id"] = f"room-{n}"
    body["visitor"].update(token=f"token-{n}", name=f"Visitor {n}", email=[{"address": email}],
                           phone=[{"phoneNumber": f"+551190000{n:04d}"}])
    for message in body["messages"]:
        message["rid"] = body["_id"]
    return body


def ids_of(post, bodies) -> list[str]:
    return [post(body).get_json()["id"] for body in bodies]


def test_one_invalid_record_in_a_batch_of_ten_is_its_own_dead_letter(
        app, engine, post, hubspot):
    ids = ids_of(post, [closed_chat(n, "not-an-email@" if n == 4 else f"v{n}@example.com")
                        for n in range(10)])
    worker = build_worker(current(app).settings, engine)
    worker.claims.pace.add(0.001)  # a fast pace: the ten are claimed at once
    assert worker.step()
    states = delivery_states(engine)
    assert states[ids[4]] == "dead"
    assert [states[i] for i in ids[:4] + ids[5:]] == ["delivered"] * 9
    assert hubspot.calls("POST", "/crm/v3/objects/notes/batch/create") == 1  # one batch
    assert len(hubspot.notes) == 9 and len(hubspot.contacts) == 9
    assert "INVALID_EMAIL" in worker_reason(engine, ids[4])


def worker_reason(engine, event_id: str) -> str:
    from receiver.store import deliveries

    with engine.connect() as conn:
        (row,) = [row for row in deliveries.list_deliveries(conn) if row.event_id == event_id]
    return row.last_error


class Batching(Adapter):
    """Takes ten at once; refuses what its `refuse` names, or raises for the whole batch."""

    name = "hubspot"
    batch_size = 10

    def __init__(self, settings, raises: Exception | None = None):
        super().__init__(settings)
        self.raises = raises
        self.batches: list[int] = []

    def deliver(self, event: dict):
        return Delivered()

    def deliver_batch(self, events):
        self.batches.append(len(events))
        if self.raises is not None:
            raise self.raises
        return super().deliver_batch(events)


def test_an_adapter_raising_for_its_batch_gives_each_delivery_the_raised_outcome(
        app, engine, post):
    ids = ids_of(post, [closed_chat(n, f"v{n}@example.com") for n in range(3)])
    adapter = Batching(current(app).settings, raises=TypeError("a bug"))
    worker = Worker(engine, {"hubspot": adapter}, lease_seconds=10)
    worker.claims.pace.add(0.001)
    assert worker.step()
    assert adapter.batches == [3]
    from receiver.store import deliveries

    with engine.connect() as conn:
        rows = [row for row in deliveries.list_deliveries(conn) if row.event_id in ids]
    assert [row.state for row in rows] == ["pending"] * 3
    assert all("adapter raised TypeError: a bug (quick try 1 of 3)" in row.last_error
               for row in rows)


def test_a_batch_that_fails_as_one_call_counts_once_toward_the_breaker(app, engine, post):
    # Ten deliveries, one unreachable CRM: one failed attempt, not ten in a row.
    ids_of(post, [closed_chat(n, f"v{n}@example.com") for n in range(10)])
    adapter = Batching(current(app).settings)
    adapter.deliver_batch = lambda events: [RetryLater("HubSpot HTTP 504: no answer")] * len(events)
    worker = Worker(engine, {"hubspot": adapter}, lease_seconds=10)
    worker.claims.pace.add(0.001)  # a fast pace: the ten are claimed at once
    assert worker.step()
    assert worker.circuits.failures == {"hubspot": 1}
    with engine.connect() as conn:
        assert breakers.opened(conn) == {}


def test_an_adapter_that_does_not_batch_gets_one_delivery_a_step(app, engine, post):
    ids_of(post, [closed_chat(n, f"v{n}@example.com") for n in range(3)])
    adapter = Batching(current(app).settings)
    adapter.batch_size = 1
    worker = Worker(engine, {"hubspot": adapter}, lease_seconds=10)
    worker.claims.pace.add(0.001)
    assert worker.step() and worker.step() and worker.step() and not worker.step()
    assert adapter.batches == []  # each handed to deliver() on its own


def test_the_default_batch_delivers_each_event_on_its_own(app):
    class Counting(Adapter):
        def deliver(self, event):
            return Failed("refused") if event["id"] == "b" else Delivered(detail=event["id"])

    outcomes = Counting(current(app).settings).deliver_batch([{"id": "a"}, {"id": "b"}])
    assert outcomes == [Delivered(detail="a"), Failed("refused")]


# The fakes' batch endpoints answer each input on its own, as the vendors document.

def hubspot_post(hubspot, path: str, body: dict):
    return requests.post(f"{hubspot.url}{path}", json=body,
                         headers={"Authorization": f"Bearer {HUBSPOT_TOKEN}"}, timeout=5)


def test_hubspot_batch_read_names_the_inputs_no_contact_holds(hubspot):
    held = hubspot.add_contact(email="Ana@example.com", lastname="Lima")
    answer = hubspot_post(hubspot, "/crm/v3/objects/contacts/batch/read", {
        "idProperty": "email", "properties": ["lastname"],
        "inputs": [{"id": "ana@example.com"}, {"id": "nobody@example.com"}]})
    assert answer.status_code == 207
    body = answer.json()
    assert [(r["id"], r["properties"]["lastname"]) for r in body["results"]] == [(held, "Lima")]
    assert body["errors"][0]["context"] == {"ids": ["nobody@example.com"]}


def test_hubspot_batch_create_with_trace_ids_makes_the_valid_inputs(hubspot):
    inputs = [{"objectWriteTraceId": "a", "properties": {"email": "a@example.com"}},
              {"objectWriteTraceId": "b", "properties": {"email": "not-an-email"}}]
    answer = hubspot_post(hubspot, "/crm/v3/objects/contacts/batch/create", {"inputs": inputs})
    assert answer.status_code == 207
    body = answer.json()
    assert [r["objectWriteTraceId"] for r in body["results"]] == ["a"]
    assert body["errors"][0]["context"] == {"objectWriteTraceId": ["b"]}
    untraced = [{"properties": {"email": "c@example.com"}}, {"properties": {"email": "nope"}}]
    refused = hubspot_post(hubspot, "/crm/v3/objects/contacts/batch/create", {"inputs": untraced})
    assert refused.status_code == 400 and len(hubspot.contacts) == 1  # all or nothing


def test_hubspot_batch_notes_carry_their_associations(hubspot):
    contact = hubspot.add_contact(email="a@example.com")
    answer = hubspot_post(hubspot, "/crm/v3/objects/notes/batch/create", {"inputs": [{
        "objectWriteTraceId": "1", "properties": {"hs_timestamp": "2025-03-04T10:31:48Z",
                                                  "hs_note_body": "hello"},
        "associations": [{"to": {"id": contact}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}]}]}]})
    assert answer.status_code == 201
    assert hubspot.notes_of(contact) == [{"hs_timestamp": "2025-03-04T10:31:48Z",
                                          "hs_note_body": "hello"}]


def zoho_post(zoho, path: str, body: dict):
    token = requests.post(f"{zoho.url}/oauth/v2/token", data={
        "grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN}, timeout=5).json()["access_token"]
    return requests.post(f"{zoho.url}/crm/v8{path}", json=body, timeout=5,
                         headers={"Authorization": f"Zoho-oauthtoken {token}"})


def test_zoho_writes_of_many_records_answer_each_in_order():
    with FakeZoho() as zoho:
        answer = zoho_post(zoho, "/Contacts", {"data": [
            {"Last_Name": "Lima", "Email": "a@example.com"}, {"Email": "b@example.com"}]})
        assert answer.status_code == 207
        first, second = answer.json()["data"]
        assert first["status"] == "success" and second["code"] == "MANDATORY_NOT_FOUND"
        upserted = zoho_post(zoho, "/Contacts/upsert", {
            "duplicate_check_fields": ["Email"],
            "data": [{"Last_Name": "Lima", "Email": "a@example.com", "Phone": "+1"},
                     {"Last_Name": "Souza", "Email": "c@example.com"}]}).json()["data"]
        assert [result["action"] for result in upserted] == ["update", "insert"]
        record_id = first["details"]["id"]
        notes = zoho_post(zoho, "/Notes", {"data": [
            {"Note_Title": "t", "Note_Content": "v8", "Parent_Id": {
                "module": {"api_name": "Contacts"}, "id": record_id}},
            {"Note_Title": "t", "Note_Content": "v2", "Parent_Id": record_id,
             "se_module": "Contacts"},
            {"Note_Title": "t", "Note_Content": "x", "Parent_Id": "404",
             "se_module": "Contacts"}]})
        assert notes.status_code == 207
        assert [n["Note_Content"] for n in zoho.notes_of("Contacts", record_id)] == ["v8", "v2"]
        assert notes.json()["data"][2]["code"] == "INVALID_DATA"


@pytest.fixture
def zoho():
    with FakeZoho() as fake:
        yield fake


def test_zoho_takes_a_batch_of_new_and_returning_visitors_in_few_calls(
        request, zoho, environment):
    environment.update(RECEIVER_ADAPTERS="zoho", RECEIVER_ZOHO_CLIENT_ID=CLIENT_ID,
                       RECEIVER_ZOHO_CLIENT_SECRET=CLIENT_SECRET,
                       RECEIVER_ZOHO_REFRESH_TOKEN=REFRESH_TOKEN,
                       RECEIVER_ZOHO_ACCOUNTS_URL=zoho.url)
    settings = load_settings(environment)
    engine, post = request.getfixturevalue("engine"), request.getfixturevalue("post")
    known = zoho.add_record("Contacts", Last_Name="Known", Email="v0@example.com")
    zoho.index()
    ids = ids_of(post, [closed_chat(n, f"v{n}@example.com") for n in range(10)])
    adapter = ZohoAdapter(settings)
    worker = Worker(engine, {"zoho": adapter}, lease_seconds=10)
    worker.claims.pace.add(0.001)
    try:
        assert worker.step()
    finally:
        adapter.close()
    assert [delivery_states(engine)[i] for i in ids] == ["delivered"] * 10
    records = zoho.records["Contacts"]
    assert len(records) == 10 and records[known]["Last_Name"] == "Known"  # filled, kept
    assert records[known]["Phone"] == "+5511900000000"
    assert all(len(zoho.notes_of("Contacts", record_id)) == 1 for record_id in records)
    calls = [call for call in zoho.requests if call[1].startswith("/crm/")]
    assert calls.count(("POST", "/crm/v8/Contacts")) == 1  # the nine new ones, together
    assert calls.count(("POST", "/crm/v8/Notes")) == 1


def test_a_batch_reads_its_visitors_links_once_per_round(app, engine, post, hubspot,
                                                         monkeypatch):
    from receiver.adapters.identities import IdentityLinks

    first = ids_of(post, [closed_chat(n, f"v{n}@example.com") for n in range(10)])
    worker = build_worker(current(app).settings, engine)
    assert worker.step()
    again = ids_of(post, [{**closed_chat(n, f"v{n}@example.com"), "_id": f"room-{n}-again"}
                          for n in range(10)])
    reads = []
    known = IdentityLinks.known
    monkeypatch.setattr(IdentityLinks, "known", lambda self, scope, keys: (
        reads.append(len(keys)), known(self, scope, keys))[1])
    assert worker.step()  # ten returning visitors, all linked
    states = delivery_states(engine)
    assert [states[i] for i in first + again] == ["delivered"] * 20
    assert reads == [30]  # token, email and phone of each, in one read


def test_a_round_whose_links_cannot_be_written_is_retried_before_any_note(
        app, engine, post, hubspot, monkeypatch):
    from receiver.adapters.api import Transient
    from receiver.adapters.identities import IdentityLinks

    ids = ids_of(post, [closed_chat(n, f"v{n}@example.com") for n in range(3)])
    worker = build_worker(current(app).settings, engine)

    def unavailable(self, scope, links):
        raise Transient("the receiver's database is unavailable: OperationalError")

    monkeypatch.setattr(IdentityLinks, "link_all", unavailable)
    assert worker.step()
    assert set(delivery_states(engine).values()) == {"pending"}
    assert hubspot.notes == {}  # no note before its contact is linked
    monkeypatch.undo()
    worker.claims.give_back()
    with engine.begin() as conn:  # due again now, rather than after the backoff
        from receiver.store.tables import deliveries
        conn.execute(deliveries.update().values(due_at=deliveries.c.created_at))
    assert worker.step()
    assert [delivery_states(engine)[i] for i in ids] == ["delivered"] * 3
    assert len(hubspot.contacts) == 3 and len(hubspot.notes) == 3
