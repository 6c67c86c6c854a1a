"""CRM calls per closed chat: a backlog of complete conversations drained into fake CRMs.

    python bench/calls.py [--chats 50] [--returning 0.6] [--code DIR]

Each conversation is a start, two visitor messages, an agent message and a close. Returning
visitors chatted once before, delivered by an earlier worker; the backlog is then drained
by a new worker in this process (a restart: nothing in its memory), and every call the fake
HubSpot and Zoho received while draining is counted. `--code DIR` measures the receiver
checked out at DIR instead (`git archive <commit> | tar -x -C DIR`), for a before/after.
The fakes enforce no rate limit here: this counts calls, it does not time them.
"""

import argparse
import json
import logging
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ("e-livechat-session-start", "e-message-visitor", "e-message-agent",
           "e-message-visitor", "e-livechat-session-close")
ROOM, TOKEN = "r7XkPq2mZ4nLb8sT3", "c9f1e0d2-4b7a-4e1f-9a3c-1d2e3f4a5b6c"
EMAIL, PHONE, NAME = "maria@example.com", "+5511999990000", "Maria Silva"
WEBHOOK_TOKEN = "bench-token"
UNLIMITED = 10**9


def conversation(code: Path, room: str, visitor: int) -> list[dict]:
    """The bodies of one complete conversation of visitor number `visitor`, in room `room`."""
    bodies = []
    for n, sample in enumerate(SAMPLES):
        text = (code / "receiver" / "samples" / f"{sample}.json").read_text()
        for old, new in ((ROOM, room), (TOKEN, f"bench-token-{visitor}"),
                         (EMAIL, f"visitor{visitor}@example.com"),
                         (PHONE, f"+55119{visitor:08d}"), (NAME, f"Visitor {visitor} Bench")):
            text = text.replace(old, new)
        body = json.loads(text)
        for message in body.get("messages") or []:
            message["_id"] = f"{room}-{n}-{message['_id']}"  # each message once per room
        bodies.append(body)
    return bodies


def post_all(client, bodies: list[dict]) -> None:
    for body in bodies:
        answer = client.post("/webhooks/rocketchat", json=body,
                             headers={"X-RocketChat-Livechat-Token": WEBHOOK_TOKEN})
        assert answer.status_code == 200, answer.get_data(as_text=True)


def drain(worker) -> None:
    while worker.step():
        pass


def measure(chats: int, returning: float) -> dict:
    """Calls each fake received while a new worker drained `chats` closed conversations."""
    from receiver import create_app
    from receiver.store import schema
    from receiver.worker import build_worker
    from tests.fakes.hubspot import TOKEN as HUBSPOT_TOKEN
    from tests.fakes.hubspot import FakeHubSpot
    from tests.fakes.zoho import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeZoho

    # Calls are counted here, not paced.
    with tempfile.TemporaryDirectory() as folder, \
            FakeHubSpot(per_window=UNLIMITED, searches=UNLIMITED) as hubspot, FakeZoho() as zoho:
        app = create_app({
            "ROCKETCHAT_LIVECHAT_TOKEN": WEBHOOK_TOKEN,
            "DATABASE_URL": f"sqlite:///{folder}/calls.sqlite3",
            "RECEIVER_ADAPTERS": "hubspot,zoho",
            "RECEIVER_HUBSPOT_TOKEN": HUBSPOT_TOKEN, "RECEIVER_HUBSPOT_API_URL": hubspot.url,
            "RECEIVER_ZOHO_CLIENT_ID": CLIENT_ID, "RECEIVER_ZOHO_CLIENT_SECRET": CLIENT_SECRET,
            "RECEIVER_ZOHO_REFRESH_TOKEN": REFRESH_TOKEN, "RECEIVER_ZOHO_ACCOUNTS_URL": zoho.url,
        })
        engine, settings = engine_and_settings(app)
        schema.upgrade(engine)
        client = app.test_client()
        returners = int(chats * returning)
        for visitor in range(returners):  # their first chat, delivered before the backlog
            post_all(client, conversation(ROOT if CODE is None else CODE,
                                          f"before-{visitor}", visitor))
        first = build_worker(settings, engine)
        drain(first)
        hubspot.index(), zoho.index()
        hubspot_before, zoho_before = len(hubspot.requests), len(zoho.requests)
        for chat in range(chats):
            post_all(client, conversation(ROOT if CODE is None else CODE, f"backlog-{chat}",
                                          chat))  # visitors below `returners` come back
        worker = build_worker(settings, engine)
        drain(worker)
        hubspot_calls = hubspot.requests[hubspot_before:]
        zoho_calls = [call for call in zoho.requests[zoho_before:] if call[1].startswith("/crm/")]
        result = {
            "hubspot": len(hubspot_calls) / chats, "zoho": len(zoho_calls) / chats,
            "hubspot_contacts": len(hubspot.contacts), "hubspot_notes": len(hubspot.notes),
            "zoho_records": len(zoho.records["Contacts"]), "zoho_notes": len(zoho.notes),
            "hubspot_by_call": by_call(hubspot_calls), "zoho_by_call": by_call(zoho_calls),
        }
        result["undelivered"] = undelivered(engine)
        for adapter in worker.adapters.values():
            adapter.close()
        for adapter in first.adapters.values():
            adapter.close()
        engine.dispose()
        return result


def engine_and_settings(app):
    """The app's engine and settings: from its state, or, in a tree from before the app state
    (a `--code` checkout), from the extensions that held them."""
    state = app.extensions.get("receiver")
    if state is not None:
        return state.engine, state.settings
    return app.extensions["receiver.engine"], app.extensions["receiver.settings"]


def undelivered(engine) -> int:
    """Deliveries not delivered after the drain: retries, dead letters."""
    from sqlalchemy import func, select

    from receiver.store.tables import deliveries

    with engine.connect() as conn:
        return conn.execute(select(func.count()).where(
            deliveries.c.state != "delivered")).scalar_one()


def by_call(calls: list[tuple[str, str]]) -> dict:
    """How many calls of each kind, ids left out (`POST /crm/v3/objects/notes/batch/create`)."""
    counted: dict[str, int] = {}
    for method, path in calls:
        shape = "/".join(part if re.fullmatch(r"([A-Za-z]+\d?)?", part) else "{id}"
                         for part in path.split("/"))
        counted[f"{method} {shape}"] = counted.get(f"{method} {shape}", 0) + 1
    return dict(sorted(counted.items()))


CODE: Path | None = None


def main() -> None:
    global CODE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--returning", type=float, default=0.6)
    parser.add_argument("--code", type=Path, help="measure the receiver checked out here")
    arguments = parser.parse_args()
    CODE = arguments.code
    logging.disable(logging.WARNING)  # each delivery logs a line; only the figures matter
    sys.path.insert(0, str(ROOT))
    import tests.fakes.hubspot  # noqa: F401  this checkout's fakes, whichever receiver is measured
    import tests.fakes.zoho  # noqa: F401
    if CODE is not None:
        sys.path.insert(0, str(CODE.resolve()))
    result = measure(arguments.chats, arguments.returning)
    print(f"{arguments.chats} closed chats, {arguments.returning:.0%} returning visitors")
    print(f"HubSpot calls per closed chat: {result['hubspot']:.2f}")
    for call, count in result["hubspot_by_call"].items():
        print(f"    {count:4d}  {call}")
    print(f"Zoho CRM calls per closed chat: {result['zoho']:.2f}")
    for call, count in result["zoho_by_call"].items():
        print(f"    {count:4d}  {call}")
    print(f"HubSpot: {result['hubspot_contacts']} contacts, {result['hubspot_notes']} notes; "
          f"Zoho: {result['zoho_records']} records, {result['zoho_notes']} notes; "
          f"{result['undelivered']} deliveries not delivered")


if __name__ == "__main__":
    main()
