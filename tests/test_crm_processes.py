"""Returning visitors, two worker processes, PostgreSQL, and CRMs that lag and lose answers:
one record per person and one note per closed chat in each CRM.
"""

import pytest
from sqlalchemy import create_engine, inspect, text

from .builders import payload
from .fakes.hubspot import TOKEN as HUBSPOT_TOKEN
from .fakes.hubspot import FakeHubSpot
from .fakes.zoho import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeZoho
from .servers import wait_for, workers
from .stored import every_delivery_state

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

VISITORS = 6
SEARCH_LAG = 2.0
LOSE_EVERY = 5  # one write answer in five never arrives


@pytest.fixture
def database_url(postgres_url):
    """Only PostgreSQL: two worker processes on one database server."""
    engine = create_engine(postgres_url)
    tables = ", ".join(name for name in inspect(engine).get_table_names()
                       if name != "alembic_version")
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return postgres_url


@pytest.fixture
def crms():
    with FakeHubSpot(search_lag=SEARCH_LAG, lose_every=LOSE_EVERY) as hubspot, \
            FakeZoho(unique_fields=(), search_lag=SEARCH_LAG, lose_every=LOSE_EVERY,
                     lost_how="reset") as zoho:
        yield hubspot, zoho


@pytest.fixture
def environment(environment, crms):
    hubspot, zoho = crms
    environment.update(
        RECEIVER_ADAPTERS="hubspot,zoho", RECEIVER_LEASE_SECONDS="8", RECEIVER_HTTP_TIMEOUT="3",
        RECEIVER_HUBSPOT_TOKEN=HUBSPOT_TOKEN, RECEIVER_HUBSPOT_API_URL=hubspot.url,
        RECEIVER_ZOHO_CLIENT_ID=CLIENT_ID, RECEIVER_ZOHO_CLIENT_SECRET=CLIENT_SECRET,
        RECEIVER_ZOHO_REFRESH_TOKEN=REFRESH_TOKEN, RECEIVER_ZOHO_ACCOUNTS_URL=zoho.url,
        RECEIVER_HUBSPOT_SEARCH_LAG_SECONDS=str(SEARCH_LAG * 2),
        RECEIVER_ZOHO_SEARCH_LAG_SECONDS=str(SEARCH_LAG * 2))
    return environment


def visitor(body: dict, room_id: str, token: str, name: str, email=None, phone=None) -> dict:
    """`body` in room `room_id`, from a visitor who has given what is passed so far."""
    body["_id"] = room_id
    body["visitor"].update(token=token, name=name, _id=f"id-{token}")
    body["visitor"].pop("email", None)
    body["visitor"].pop("phone", None)
    if email:
        body["visitor"]["email"] = [{"address": email}]
    if phone:
        body["visitor"]["phone"] = [{"phoneNumber": phone}]
    for message in body.get("messages") or []:
        message["rid"] = room_id
        message["_id"] = f"{room_id}-{message['_id']}"
    return body


def person(n: int) -> dict:
    return {"name": f"Visitor Number{n}", "email": f"visitor{n}@example.com",
            "phone": f"+55119000000{n:02d}", "tokens": [f"token-{n}-a", f"token-{n}-b"]}


def conversations(n: int) -> list[dict]:
    """Two chats of visitor n at once: the first gives a phone, then an email; the second,
    from the same browser, gives the email at once, or, from another browser (odd n), the
    phone, then the email."""
    who = person(n)
    first, second = f"v{n}-first", f"v{n}-second"
    token, again = who["tokens"][0], who["tokens"][n % 2]
    name, email, phone = who["name"], who["email"], who["phone"]
    known = {"phone": phone} if n % 2 else {"email": email}
    return [
        visitor(payload("e-livechat-session-start"), first, token, name, phone=phone),
        visitor(payload("e-livechat-session-start"), second, again, name, **known),
        visitor(payload("e-message-visitor"), first, token, name),
        visitor(payload("e-lead-capture"), first, token, name, email=email, phone=phone),
        visitor(payload("e-livechat-session-close"), second, again, name, email=email),
        visitor(payload("e-livechat-session-close"), first, token, name, email=email,
                phone=phone),
    ]


def records_of(records: dict, who: dict, email: str, phone: str, token: str | None) -> set:
    return {record_id for record_id, fields in records.items()
            if (fields.get(email) or "").lower() == who["email"] or
            fields.get(phone) == who["phone"] or (token and fields.get(token) in who["tokens"])}


def counts(hubspot, zoho) -> dict:
    """Records per person and notes per closed chat, in each CRM."""
    found = {"hubspot": {"records": [], "notes": []}, "zoho": {"records": [], "notes": []}}
    for n in range(VISITORS):
        who = person(n)
        found["hubspot"]["records"].append(len(records_of(
            hubspot.contacts, who, "email", "phone", "rocketchat_visitor_token")))
        found["zoho"]["records"].append(len(records_of(
            zoho.records["Contacts"], who, "Email", "Phone", None)))
        for chat in (f"v{n}-first", f"v{n}-second"):
            marker = f"[conversation {chat}]"
            found["hubspot"]["notes"].append(sum(
                marker in note["properties"].get("hs_note_body", "")
                for note in hubspot.notes.values()))
            found["zoho"]["notes"].append(sum(
                marker in note.get("Note_Content", "") for note in zoho.notes.values()))
    for crm in found.values():
        crm["duplicates"] = sum(max(0, c - 1) for c in crm["records"] + crm["notes"])
    return found


def test_returning_visitors_are_one_record_each_with_one_note_per_chat(
        environment, post, engine, crms):
    hubspot, zoho = crms
    for n in range(VISITORS):
        for body in conversations(n):
            assert post(body).status_code == 200
    with workers(environment, 2):
        finished = wait_for(lambda: set(every_delivery_state(engine)) <= {"delivered", "dead"},
                            timeout=150)
    found = counts(hubspot, zoho)
    states = sorted(every_delivery_state(engine))
    print(f"\nfinished={finished} deliveries: delivered={states.count('delivered')} "
          f"dead={states.count('dead')} pending={states.count('pending')}; lost answers: "
          f"hubspot {hubspot.lost.lost} of {hubspot.lost.writes} writes, "
          f"zoho {zoho.lost.lost} of {zoho.lost.writes}")
    for name, crm in found.items():
        print(f"{name}: records per person {crm['records']}, notes per chat {crm['notes']}, "
              f"duplicates {crm['duplicates']}")
    assert finished and set(states) == {"delivered"}
    for crm in found.values():
        assert crm["records"] == [1] * VISITORS
        assert crm["notes"] == [1] * (2 * VISITORS)
