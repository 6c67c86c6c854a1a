"""Who a CRM record is about: the identifiers and name facts both CRM adapters match on."""

import re
from dataclasses import dataclass, field

IDENTIFIER_KINDS = ("token", "email", "phone")  # strongest first
PHONE_NOISE = re.compile(r"[\s().-]")


@dataclass(frozen=True)
class Person:
    """A visitor as a CRM sees one: the keys to match on, and the facts to keep in sync."""

    email: str | None
    phone: str | None
    token: str | None
    first_name: str | None
    last_name: str | None
    custom_fields: dict = field(default_factory=dict)

    @property
    def name(self) -> str | None:
        return " ".join(part for part in (self.first_name, self.last_name) if part) or None

    def identifiers(self) -> list[tuple[str, str]]:
        """(kind, value) of each identifier the visitor gave, strongest first, normalized."""
        values = {"token": self.token, "email": (self.email or "").strip().lower(),
                  "phone": PHONE_NOISE.sub("", self.phone or "")}
        return [(kind, values[kind]) for kind in IDENTIFIER_KINDS if values[kind]]


def split_name(name: str | None) -> tuple[str | None, str | None]:
    """`Maria da Silva` as (`Maria da`, `Silva`): CRMs want a last name above all."""
    parts = (name or "").split()
    if not parts:
        return None, None
    if len(parts) == 1:
        return None, parts[0]
    return " ".join(parts[:-1]), parts[-1]


def from_event(event: dict) -> Person:
    """The visitor of a room event, or the sender of an offline message."""
    offline = event.get("offline_message")
    if offline is not None:
        first, last = split_name(offline.get("name"))
        return Person(email=offline.get("email") or None, phone=None, token=None,
                      first_name=first, last_name=last)
    contact = event.get("contact") or {}
    # Not the username (`guest-1042`): a CRM keeps a name once written, so only a real one.
    first, last = split_name(contact.get("name"))
    return Person(
        email=next(iter(contact.get("emails") or []), None),
        phone=next(iter(contact.get("phones") or []), None),
        token=contact.get("token") or None,
        first_name=first, last_name=last,
        custom_fields=contact.get("custom_fields") or {},
    )


def mapped_fields(person: Person, mapping: dict) -> dict:
    """The visitor's custom fields renamed to the CRM's field names, for the ones mapped."""
    return {target: str(person.custom_fields[source])
            for source, target in mapping.items()
            if person.custom_fields.get(source) not in (None, "")}
