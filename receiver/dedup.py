"""Derives an idempotency key for each webhook, since Rocket.Chat sends no event id."""

import base64
import hashlib

from . import records
from .jsontext import canonical_json


def identity(body: dict, event: records.Event) -> str:
    """What makes this event itself.

    A message is its room, id and edit time, so an edit is a new event while a resend
    is not, even if the room around it changed meanwhile. Everything else is its whole
    body: retries resend the same body, and distinct events differ somewhere in it.
    """
    if event.kind.startswith("message.") and event.messages and event.messages[0].id:
        message = event.messages[0]
        edited = records.format_time(message.edited_at) if message.edited_at else ""
        return "\0".join(("message", event.conversation.id, message.id, edited))
    return canonical_json(body)


def dedup_key(body: dict, event: records.Event) -> str:
    """The hex SHA-256 of the event's type and identity."""
    text = f"{event.source_type}\0{identity(body, event)}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def event_id(key: str) -> str:
    """A short public id derived from the key, so a redelivery gets the same id."""
    return "evt_" + base64.b32encode(bytes.fromhex(key)[:15]).decode("ascii").lower()
