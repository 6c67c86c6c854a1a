"""HubSpot contacts as the matcher sees them: found, read, created and updated by id."""

from ..api import Transient
from ..lookups import LookedUp
from ..people import Person
from .client import Conflict, HubSpotClient, NotFound
from .settings import HubSpotSettings

NAME_PROPERTIES = ("firstname", "lastname")
UNIQUE_PROPERTIES = ("email",)


class HubSpotContacts:
    """Email and the visitor-token property are consistent reads; phone goes through search."""

    scope = "hubspot"
    placeholders: dict = {}  # HubSpot requires no property a visitor may not have given

    def __init__(self, client: HubSpotClient, settings: HubSpotSettings):
        self.client = client
        self.settings = settings
        self.properties = ["email", "phone", *NAME_PROPERTIES, settings.token_property,
                           *settings.custom_fields.values()]

    def find(self, kind: str, value: str) -> str | None:
        if kind == "token":
            return self.client.contact_by(self.settings.token_property, value)
        if kind == "email":
            return self.client.contact_by("email", value)
        return self.client.search_contact("phone", value)

    def read(self, record_id: str) -> dict | None:
        return self.client.read_contact(record_id, self.properties)

    def looked_up(self, people: list[Person]) -> LookedUp:
        """These visitors' contacts by token and email, read in one batch call for each, and
        by phone, in one search."""
        found, held = {}, {}
        for kind, property_name in (("token", self.settings.token_property), ("email", "email")):
            values = sorted({getattr(person, kind) for person in people if getattr(person, kind)})
            hits = self.client.contacts_by(property_name, values, self.properties) if values else {}
            for value in values:
                record_id, fields = hits.get(value, (None, None))
                found[kind, value] = record_id
                if record_id:
                    held[record_id] = fields
        phones = sorted({person.phone for person in people if person.phone})
        if phones:
            # Read by id if chosen: the search index may lag the record.
            hits, whole = self.client.search_contacts("phone", phones)
            for phone in phones:
                if phone in hits:
                    found["phone", phone] = hits[phone]
                elif whole:  # else another page may hold it: searched alone, if need be
                    found["phone", phone] = None
        return LookedUp(self, found, held)

    def create(self, fields: dict) -> tuple[str, bool]:
        return self.client.create_contact(fields)

    def update(self, record_id: str, fields: dict) -> None:
        try:
            self.client.update_contact(record_id, fields)
        except Conflict:
            # The email (or token) belongs to another contact: write the rest, never steal it.
            unique = {*UNIQUE_PROPERTIES, self.settings.token_property}
            rest = {name: value for name, value in fields.items() if name not in unique}
            if rest:
                self.client.update_contact(record_id, rest)
        except NotFound:
            raise Transient(f"HubSpot contact {record_id} was deleted or merged while being "
                            "updated; it is looked up again on the next try") from None

    def name_of(self, held: dict) -> str | None:
        return " ".join(held.get(name) or "" for name in NAME_PROPERTIES).strip() or None
