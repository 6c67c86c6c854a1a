"""The `zoho` adapter: Contacts (or Leads) filled in, transcripts and offline messages as Notes."""

from ..api import ApiError, Permanent
from ..base import Delivered, Failed
from ..crm import CrmAdapter, Job
from ..people import Person
from ..transcript import closes_conversation
from .auth import AccessTokens
from .client import ZohoClient
from .limits import ZohoLimits
from .mapping import offline_note, record_fields, transcript_note
from .records import ZohoRecords
from .settings import ZohoSettings

OFFLINE_MODULE = "Leads"  # an offline message is someone to get back to: a lead
# Events whose content the closing transcript repeats: skipped while the visitor is unmatchable.
PASSING_KINDS = {"chat.started", "chat.queued", "chat.taken", "chat.forwarded",
                 "message.visitor", "message.agent"}


class ZohoAdapter(CrmAdapter):
    """Writes each event to Zoho CRM with the refresh token of RECEIVER_ZOHO_REFRESH_TOKEN.

    Records are matched by the rules of `matching` (remembered links, then the token field,
    email and phone), filled but never overwritten; a batch's new notes are added in one call.
    """

    name = "zoho"
    test_setting = "RECEIVER_ZOHO_INCLUDE_TEST"
    settings_class = ZohoSettings

    def __init__(self, settings, config: ZohoSettings | None = None):
        super().__init__(settings, config)
        config = self.config
        self.start(settings, "Zoho CRM",
                   protected={config.token_field} if config.token_field else set(),
                   limits=ZohoLimits(self.own, config))
        self.tokens = AccessTokens(self.api, config)
        self.client = ZohoClient(self.api, self.tokens, config.api_url)
        self.modules = {module: ZohoRecords(self.client, config, module)
                        for module in {config.module, OFFLINE_MODULE}}

    def records_for(self, event: dict) -> ZohoRecords:
        offline = event["kind"] == "offline.message"
        return self.modules[OFFLINE_MODULE if offline else self.config.module]

    def wanted(self, person: Person, records: ZohoRecords) -> dict:
        return record_fields(person, self.config, records.module)

    def unmatched(self, event: dict, person: Person, records: ZohoRecords):
        if self.can_match(records, person):
            return None
        if event["kind"] in PASSING_KINDS:
            # Message bodies rarely carry an email; the close writes the whole transcript.
            return Delivered(detail="no email or phone to match a Zoho record on yet")
        return Failed("the visitor has no email or phone to match a Zoho record on (set "
                      "RECEIVER_ZOHO_VISITOR_TOKEN_FIELD to match on the visitor token)")

    def can_match(self, records: ZohoRecords, person: Person) -> bool:
        """An email or phone, a token Zoho holds, or a token already linked to a record."""
        if person.email or person.phone or (person.token and self.config.token_field):
            return True
        return bool(person.token and self.matcher.linked_id(records, person))

    def note_of(self, event: dict, caution: str | None) -> tuple | None:
        if event["kind"] == "offline.message":
            marker, heading, content = offline_note(event, caution)
        elif closes_conversation(event):
            marker, heading, content = transcript_note(event, caution)
        else:
            return None
        return marker, (heading, content)

    def delivered(self, job: Job) -> Delivered:
        module, record_id = job.records.module, job.match.record_id
        references = {"module": module, "record_id": record_id}
        if job.note_id:
            references["note_id"] = job.note_id
        return Delivered(detail=f"Zoho {module} {record_id}", references=references)

    def create_records(self, records, wanted: list[dict]) -> list:
        if len(wanted) < 2:
            return super().create_records(records, wanted)
        return self.client.insert_many(records.module, wanted)

    def update_records(self, records, updates: list[tuple[str, dict]]) -> list:
        if len(updates) < 2:
            return super().update_records(records, updates)
        try:
            done = self.client.update_many(records.module, updates)
        except Permanent:  # refused as a whole: each is sent alone, to tell which
            done = [False] * len(updates)
        except ApiError as error:
            return [error] * len(updates)
        return [None if ok else super().update_records(records, [update])[0]
                for ok, update in zip(done, updates)]

    def create_notes(self, records: ZohoRecords, jobs: list[Job]) -> None:
        made = self.client.add_notes([(records.module, job.match.record_id, *job.note[1])
                                      for job in jobs])
        for job, result in zip(jobs, made):
            if isinstance(result, str):
                job.note_id = result
            else:
                job.fail(result)

    def update_note(self, records: ZohoRecords, note_id: str, note: tuple) -> bool:
        try:
            self.client.update_note(note_id, *note)
        except Permanent:  # deleted in Zoho since it was written
            return False
        return True

    def find_note(self, records: ZohoRecords, record_id: str, marker: str) -> str | None:
        contents = self.client.notes(records.module, record_id)
        return next((i for i, text in contents.items() if marker in text), None)

    def check(self) -> str:
        self.api.start()
        self.tokens.current()  # the token in hand while it lasts: Zoho issues few per hour
        self.client.probe(self.config.module)
        domain = self.config.api_url or self.tokens.api_domain
        return f"{self.config.accounts_url} issued a token; {domain} lets it read {self.config.module}"
