"""The `hubspot` adapter: contacts kept in sync, transcripts and offline messages as notes."""

from ..api import ApiAdapter, ApiSession, Permanent
from ..base import Delivered
from ..memo import Memo, fingerprint
from ..people import Person, from_event
from ..transcript import closes_conversation
from .client import HubSpotClient, NotFound
from .mapping import contact_properties, offline_note, transcript_note
from .settings import HubSpotSettings


class HubSpotAdapter(ApiAdapter):
    """Writes each event to the HubSpot account of RECEIVER_HUBSPOT_TOKEN.

    Idempotent: contacts are found before they are created (by email and the visitor
    token property, both consistent reads, and by phone through search), and each note
    carries a reference line that a redelivery finds among the contact's notes.
    """

    name = "hubspot"
    test_setting = "RECEIVER_HUBSPOT_INCLUDE_TEST"

    def __init__(self, settings):
        super().__init__(settings)
        self.config = HubSpotSettings.from_environ(settings.environ)
        self.include_test = self.config.include_test
        self.api = ApiSession("HubSpot", self.lease_budget(settings))
        self.client = HubSpotClient(self.api, self.config.api_url, self.config.token)
        self.contacts = Memo()  # person key -> (contact id, digest of the properties written)
        self.notes = Memo()  # note marker -> note id

    def write(self, event: dict) -> Delivered:
        person = from_event(event)
        if person.key is None:
            raise Permanent("the visitor has no email, phone or visitor token to match a "
                            "HubSpot contact on")
        contact_id = self.sync_contact(person)
        references = {"contact_id": contact_id}
        if event["kind"] == "offline.message":
            references["note_id"] = self.upsert_note(contact_id, *offline_note(event))
        elif closes_conversation(event):
            references["note_id"] = self.upsert_note(contact_id, *transcript_note(event))
        return Delivered(detail=f"HubSpot contact {contact_id}", references=references)

    def sync_contact(self, person: Person) -> str:
        """The contact's id, created or updated so that it holds what the event knows."""
        properties = contact_properties(person, self.config)
        remembered = self.contacts.get(person.key)
        if remembered and remembered[1] == fingerprint(properties):
            return remembered[0]
        contact_id = remembered[0] if remembered else self.find_contact(person)
        if contact_id is not None:
            try:
                self.client.update_contact(contact_id, properties)
            except NotFound:  # deleted or merged in HubSpot since: find it again
                self.contacts.forget(person.key)
                contact_id = self.find_contact(person)
                if contact_id is not None:
                    self.client.update_contact(contact_id, properties)
        if contact_id is None:
            contact_id = self.client.create_contact(properties)
        self.contacts.put(person.key, (contact_id, fingerprint(properties)))
        return contact_id

    def find_contact(self, person: Person) -> str | None:
        """By email, else phone, else visitor token; a just-created contact may miss search,
        so the token, a consistent read, backs the phone up."""
        if person.email and (found := self.client.contact_by("email", person.email)):
            return found
        if person.phone and (found := self.client.search_contact("phone", person.phone)):
            return found
        if person.token:
            return self.client.contact_by(self.config.token_property, person.token)
        return None

    def upsert_note(self, contact_id: str, marker: str, properties: dict) -> str:
        """Update the contact's note that carries `marker`, or create it."""
        note_id = self.notes.get(marker)
        if note_id is None:
            bodies = self.client.note_bodies(contact_id)
            note_id = next((i for i, body in bodies.items() if marker in body), None)
        if note_id is not None:
            try:
                self.client.update_note(note_id, properties)
            except NotFound:
                note_id = None
        if note_id is None:
            note_id = self.client.create_note(contact_id, properties)
        self.notes.put(marker, note_id)
        return note_id

    def check(self) -> str:
        self.api.start()
        definition = self.client.contact_property(self.config.token_property)
        unique = "unique" if definition.get("hasUniqueValue") else "NOT unique (duplicates possible)"
        return (f"{self.config.api_url} accepted the token; contact property "
                f"{self.config.token_property} exists, {unique}")
