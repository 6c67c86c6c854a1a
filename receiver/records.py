"""The normalized event, version 1: what every CRM adapter receives.

Every key is always present; absent facts are None, [] or {}. Timestamps are aware
datetimes here and ISO-8601 UTC strings ending in `Z` once serialized.
"""

from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime, timezone
from functools import cache

KINDS = (
    "chat.started", "chat.queued", "chat.taken", "chat.forwarded", "chat.closed",
    "chat.updated", "lead.captured", "message.visitor", "message.agent",
    "offline.message", "unknown",
)


@dataclass(frozen=True, slots=True)
class Participant:
    """Who wrote a message or closed a chat: a Rocket.Chat user's or visitor's ids and name."""

    id: str | None
    username: str | None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file or link attached to a message; `url` may be relative to the Rocket.Chat site."""

    title: str | None
    url: str | None
    type: str | None
    size: int | None


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message; `role` is `agent` when Rocket.Chat marked it with an agentId."""

    id: str | None
    role: str
    author: Participant
    text: str | None
    sent_at: datetime | None
    edited_at: datetime | None
    closing: bool
    attachments: list[Attachment] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Agent:
    """The Rocket.Chat agent serving the chat; `email` is a single address."""

    id: str | None
    username: str | None
    name: str | None
    email: str | None
    custom_fields: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Contact:
    """The visitor; emails and phones are plain strings whatever shape Rocket.Chat sent."""

    id: str | None
    token: str | None
    name: str | None
    username: str | None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    department: str | None = None
    ip: str | None = None
    browser: str | None = None
    os: str | None = None
    custom_fields: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Conversation:
    """The Omnichannel room; `crm_data` is whatever the room stored from an earlier answer."""

    id: str
    label: str | None
    topic: str | None
    department_id: str | None
    previous_department_id: str | None
    tags: list[str]
    custom_fields: dict
    created_at: datetime | None
    last_message_at: datetime | None
    closed_at: datetime | None
    closed_by: Participant | None
    closer: str | None
    crm_data: object


@dataclass(frozen=True, slots=True)
class OfflineMessage:
    """A message left through the offline form while no agent was online."""

    name: str | None
    email: str | None
    text: str | None
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class Event:
    """One Rocket.Chat webhook, normalized; `id` is stable across redeliveries."""

    id: str | None
    kind: str
    source_type: str | None
    test: bool
    occurred_at: datetime | None
    received_at: datetime | None
    conversation: Conversation | None
    contact: Contact | None
    agent: Agent | None
    previous_agent: Agent | None
    messages: list[Message]
    offline_message: OfflineMessage | None


def format_time(value: datetime) -> str:
    """ISO-8601 in UTC with milliseconds and a `Z`, as Rocket.Chat itself writes dates."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    text = value.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


@cache
def _field_names(kind: type) -> tuple[str, ...] | None:
    """A record type's field names, or None for any other type; asked once per type."""
    return tuple(f.name for f in fields(kind)) if is_dataclass(kind) else None


# Values that are JSON-ready as they are: most of a record's values, answered first.
_PLAIN = frozenset({str, int, float, bool, type(None), dict})


def json_form(value):
    """A record as its fields, a time as `format_time` text: `dump_json(event, json_form)`.

    Writes the same JSON as `dump_json(to_dict(event))`, but the encoder walks the plain
    values itself and calls this only for records and times: the payload of every accepted
    event is written this way.
    """
    names = _field_names(type(value))
    if names is not None:
        return {name: getattr(value, name) for name in names}
    if isinstance(value, datetime):
        return format_time(value)
    raise TypeError(f"{type(value).__name__} has no JSON form")


def to_dict(value):
    """Turn a record (or list of records) into plain JSON-ready data."""
    # Runs over every value of every accepted event, hence the cached lookup by type.
    kind = type(value)
    if kind in _PLAIN:
        return value
    names = _field_names(kind)
    if names is not None:
        return {name: to_dict(getattr(value, name)) for name in names}
    if isinstance(value, list):
        return [to_dict(item) for item in value]
    if isinstance(value, datetime):
        return format_time(value)
    return value
