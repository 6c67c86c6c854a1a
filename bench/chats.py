"""A backlog of complete conversations for the drain benchmark, some from returning visitors."""

import json
from datetime import datetime, timezone

from bench.common import ROOT

STEPS = ("e-livechat-session-start", "e-message-visitor", "e-message-agent",
         "e-message-visitor", "e-livechat-session-close")


def sample(name: str) -> dict:
    return json.loads((ROOT / "receiver" / "samples" / f"{name}.json").read_text())


def person(number: int) -> dict:
    return {"token": f"token-{number}", "name": f"Visitor Number{number}",
            "email": f"visitor{number}@example.com"}


def visitors(chats: int, returning: float) -> list[int]:
    """The person of each chat: the first `1 - returning` of them new, the rest someone earlier."""
    first = max(1, round(chats * (1 - returning)))
    return [n if n < first else (n * 7) % first for n in range(chats)]


def events(chat: int, who: dict) -> list[dict]:
    """Chat `chat` of `who`: started, two visitor messages and an agent's, closed."""
    room, bodies = f"chat-{chat}", []
    for step, name in enumerate(STEPS):
        body = sample(name)
        body["_id"] = room
        body["visitor"].update(token=who["token"], name=who["name"], _id=f"id-{who['token']}")
        body["visitor"]["email"] = [{"address": who["email"]}]
        body["visitor"].pop("phone", None)
        for message in body.get("messages") or []:
            message["rid"] = room
            message["_id"] = f"{room}-{step}-{message['_id']}"
        bodies.append(body)
    return bodies


def fill(engine, chats: int, returning: float, adapter: str) -> list[dict]:
    """Store every chat's events, each with one pending delivery to `adapter`; the people."""
    from receiver import intake

    people = visitors(chats, returning)
    now = datetime.now(timezone.utc)
    for chat, number in enumerate(people):
        for body in events(chat, person(number)):
            intake.accept(engine, json.dumps(body).encode(), (adapter,), now)
    return [person(number) for number in sorted(set(people))]
