"""The `hubspot` adapter: contacts kept in sync, transcripts and offline messages as notes."""

from ..api import ApiError, Permanent
from ..base import Delivered, Failed
from ..crm import CrmAdapter, Job
from ..people import Person
from ..transcript import closes_conversation
from .client import HubSpotClient, NotFound
from .limits import HubSpotLimits
from .mapping import contact_properties, offline_note, transcript_note
from .records import HubSpotContacts
from .settings import HubSpotSettings


class HubSpotAdapter(CrmAdapter):
    """Writes each event to the HubSpot account of RECEIVER_HUBSPOT_TOKEN.

    Contacts are matched by the rules of `matching` (remembered links, then token, email
    and phone), filled but never overwritten; the visitors of a batch are read by token and
    email in one call each, and its new notes are created, with their associations, in one.
    """

    name = "hubspot"
    test_setting = "RECEIVER_HUBSPOT_INCLUDE_TEST"
    settings_class = HubSpotSettings

    def __init__(self, settings, config: HubSpotSettings | None = None):
        super().__init__(settings, config)
        config = self.config
        self.start(settings, "HubSpot", protected={config.token_property},
                   limits=HubSpotLimits(self.own, config))
        self.client = HubSpotClient(self.api, config.api_url, config.token)
        self.contacts = HubSpotContacts(self.client, config)

    def records_for(self, event: dict) -> HubSpotContacts:
        return self.contacts

    def wanted(self, person: Person, records: HubSpotContacts) -> dict:
        return contact_properties(person, self.config)

    def unmatched(self, event: dict, person: Person, records: HubSpotContacts):
        if person.identifiers():
            return None
        return Failed("the visitor has no email, phone or visitor token to match a HubSpot "
                      "contact on")

    def note_of(self, event: dict, caution: str | None) -> tuple | None:
        if event["kind"] == "offline.message":
            return offline_note(event, caution)
        if closes_conversation(event):
            return transcript_note(event, caution)
        return None

    def delivered(self, job: Job) -> Delivered:
        references = {"contact_id": job.match.record_id}
        if job.note_id:
            references["note_id"] = job.note_id
        return Delivered(detail=f"HubSpot contact {job.match.record_id}", references=references)

    def look_up(self, jobs: list[Job]) -> dict:
        people = [job.person for job in jobs
                  if not self.matcher.settled(job.records, job.person, job.wanted)]
        # One visitor is looked up as the matcher goes, which stops at the first found.
        return {self.contacts: self.contacts.looked_up(people)} if len(people) > 1 else {}

    def create_records(self, records, wanted: list[dict]) -> list:
        if len(wanted) < 2:
            return super().create_records(records, wanted)
        return self.client.create_contacts(wanted)

    def update_records(self, records, updates: list[tuple[str, dict]]) -> list:
        if len(updates) < 2:
            return super().update_records(records, updates)
        try:
            done = self.client.update_contacts(updates)
        except ApiError as error:
            return [error] * len(updates)
        # What HubSpot refused is sent alone: a conflict there writes the rest of the fields.
        return [None if ok else super().update_records(records, [update])[0]
                for ok, update in zip(done, updates)]

    def create_notes(self, records: HubSpotContacts, jobs: list[Job]) -> None:
        made = self.client.create_notes({str(n): (job.match.record_id, job.note[1])
                                         for n, job in enumerate(jobs)})
        for n, job in enumerate(jobs):
            result = made.get(str(n))
            if isinstance(result, str):
                job.note_id = result
            else:
                job.fail(result or Permanent("HubSpot answered no result for the note"))

    def update_note(self, records: HubSpotContacts, note_id: str, properties: dict) -> bool:
        try:
            self.client.update_note(note_id, properties)
        except NotFound:
            return False
        return True

    def find_note(self, records: HubSpotContacts, contact_id: str, marker: str) -> str | None:
        bodies = self.client.note_bodies(contact_id)
        return next((i for i, body in bodies.items() if marker in body), None)

    def check(self) -> str:
        self.api.start()
        definition = self.client.contact_property(self.config.token_property)
        unique = "unique" if definition.get("hasUniqueValue") else "NOT unique (duplicates possible)"
        return (f"{self.config.api_url} accepted the token; contact property "
                f"{self.config.token_property} exists, {unique}")
