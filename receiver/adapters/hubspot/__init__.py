"""The `hubspot` adapter: contacts kept in sync, transcripts and offline messages as notes."""

from ..api import ApiAdapter, ApiSession, Permanent
from ..base import Delivered
from ..identities import IdentityLinks
from ..matching import Matcher
from ..memo import Memo
from ..people import from_event
from ..transcript import closes_conversation
from .client import HubSpotClient, NotFound
from .limits import HubSpotLimits
from .mapping import contact_properties, offline_note, transcript_note
from .records import HubSpotContacts
from .settings import HubSpotSettings


class HubSpotAdapter(ApiAdapter):
    """Writes each event to the HubSpot account of RECEIVER_HUBSPOT_TOKEN.

    Contacts are matched by the rules of `matching` (remembered links, then token, email
    and phone), filled but never overwritten; each note carries a reference line that a
    redelivery finds among the contact's notes.
    """

    name = "hubspot"
    test_setting = "RECEIVER_HUBSPOT_INCLUDE_TEST"

    def __init__(self, settings):
        super().__init__(settings)
        self.config = HubSpotSettings.from_environ(settings.environ)
        self.include_test = self.config.include_test
        self.api = ApiSession("HubSpot", self.lease_budget(settings),
                              HubSpotLimits(settings, self.config))
        self.client = HubSpotClient(self.api, self.config.api_url, self.config.token)
        self.contacts = HubSpotContacts(self.client, self.config)
        self.matcher = Matcher(
            IdentityLinks(settings.database_url, settings.store_timeout_seconds),
            search_lag=self.config.search_lag_seconds, budget=self.lease_budget(settings),
            overwrite=self.config.overwrite_fields, protected={self.config.token_property})
        self.notes = Memo()  # note marker -> note id

    def write(self, event: dict) -> Delivered:
        person = from_event(event)
        if not person.identifiers():
            raise Permanent("the visitor has no email, phone or visitor token to match a "
                            "HubSpot contact on")
        match = self.matcher.match(self.contacts, person,
                                   contact_properties(person, self.config))
        contact_id = match.record_id
        references = {"contact_id": contact_id}
        caution = match.caution(person.name)
        if event["kind"] == "offline.message":
            references["note_id"] = self.upsert_note(contact_id, *offline_note(event, caution))
        elif closes_conversation(event):
            references["note_id"] = self.upsert_note(contact_id,
                                                     *transcript_note(event, caution))
        return Delivered(detail=f"HubSpot contact {contact_id}", references=references)

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

    def close(self) -> None:
        super().close()
        self.matcher.close()
