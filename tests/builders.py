"""Webhook bodies, the tokens they are sent with, and adapter events, built from the samples."""

import copy
import json
from pathlib import Path

PAYLOADS = Path(__file__).parent.parent / "receiver" / "samples"
TOKEN = "current-token"
OLD_TOKEN = "previous-token"


def payload(name: str) -> dict:
    """One of the example bodies, as a fresh dict."""
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def payload_names() -> list[str]:
    """The names of the example bodies, sorted."""
    return sorted(path.stem for path in PAYLOADS.glob("*.json"))


def nested(depth: int):
    """Lists inside lists, `depth` of them."""
    node = []
    for _ in range(depth - 1):
        node = [node]
    return node


def close_with(**fields) -> dict:
    """The sample close, with top-level fields replaced as given."""
    return {**payload("e-livechat-session-close"), **fields}


def room(body: dict, room_id: str) -> dict:
    """`body` moved to the room `room_id`."""
    body["_id"] = room_id
    return body


def visitor_message(room_id: str, message_id: str) -> dict:
    """The sample visitor Message, as message `message_id` of room `room_id`."""
    body = room(payload("e-message-visitor"), room_id)
    body["messages"][0]["_id"] = message_id
    return body


def rooms(post, count: int) -> list[str]:
    """One Message in each of `count` rooms; their event ids, in arrival order."""
    return [post(room(payload("e-message-visitor"), f"room{n}")).get_json()["id"]
            for n in range(count)]


def sample_with(sample: str, **contact_changes) -> dict:
    """A shipped sample's normalized event, with `contact` fields replaced as given."""
    from receiver.testing import sample_events

    chosen = copy.deepcopy(sample_events()[sample])
    chosen["contact"].update(contact_changes)
    return chosen
