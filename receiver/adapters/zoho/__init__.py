"""The `zoho` adapter: Contacts (or Leads) upserted by email, transcripts and offline messages as Notes."""

from ..api import ApiAdapter, ApiSession, Permanent
from ..base import Delivered
from ..memo import Memo, fingerprint
from ..people import Person, from_event
from ..transcript import closes_conversation
from .auth import AccessTokens
from .client import ZohoClient
from .mapping import duplicate_check_fields, offline_note, record_fields, transcript_note
from .settings import ZohoSettings

OFFLINE_MODULE = "Leads"  # an offline message is someone to get back to: a lead
# Events whose content the closing transcript repeats: skipped while the visitor is unmatchable.
PASSING_KINDS = {"chat.started", "chat.queued", "chat.taken", "chat.forwarded",
                 "message.visitor", "message.agent"}


class ZohoAdapter(ApiAdapter):
    """Writes each event to Zoho CRM with the refresh token of RECEIVER_ZOHO_REFRESH_TOKEN.

    Idempotent: records are upserted with Zoho's duplicate check (email, and the visitor
    token field when configured), and each note carries a reference line that a
    redelivery finds among the record's notes.
    """

    name = "zoho"
    test_setting = "RECEIVER_ZOHO_INCLUDE_TEST"

    def __init__(self, settings):
        super().__init__(settings)
        self.config = ZohoSettings.from_environ(settings.environ)
        self.include_test = self.config.include_test
        self.api = ApiSession("Zoho CRM", self.lease_budget(settings))
        self.tokens = AccessTokens(self.api, self.config)
        self.client = ZohoClient(self.api, self.tokens, self.config.api_url)
        self.records = Memo()  # (module, person key) -> (record id, fingerprint of fields)
        self.notes = Memo()  # note marker -> note id

    def write(self, event: dict) -> Delivered:
        person = from_event(event)
        offline = event["kind"] == "offline.message"
        module = OFFLINE_MODULE if offline else self.config.module
        if not self.can_match(person) and event["kind"] in PASSING_KINDS:
            # Message bodies rarely carry an email; the close writes the whole transcript.
            return Delivered(detail="no email or phone to match a Zoho record on yet")
        record_id = self.sync_record(module, person)
        references = {"module": module, "record_id": record_id}
        if offline:
            references["note_id"] = self.upsert_note(module, record_id, *offline_note(event))
        elif closes_conversation(event):
            references["note_id"] = self.upsert_note(module, record_id, *transcript_note(event))
        return Delivered(detail=f"Zoho {module} {record_id}", references=references)

    def can_match(self, person: Person) -> bool:
        token_field = self.config.token_field and person.token
        return bool(person.email or person.phone or token_field)

    def sync_record(self, module: str, person: Person) -> str:
        """The record's id, inserted or updated so that it holds what the event knows."""
        fields = record_fields(person, self.config, module)
        key = (module, person.key)
        remembered = self.records.get(key)
        if remembered and remembered[1] == fingerprint(fields):
            return remembered[0]
        checks = duplicate_check_fields(fields, self.config)
        if checks:
            record_id = self.client.upsert(module, fields, checks)
        elif person.phone:
            record_id = remembered[0] if remembered else \
                self.client.find_by_phone(module, person.phone)
            if record_id:
                self.client.update(module, record_id, fields)
            else:
                record_id = self.client.upsert(module, fields, [])
        else:
            raise Permanent("the visitor has no email or phone to match a Zoho record on (set "
                            "RECEIVER_ZOHO_VISITOR_TOKEN_FIELD to match on the visitor token)")
        self.records.put(key, (record_id, fingerprint(fields)))
        return record_id

    def upsert_note(self, module: str, record_id: str, marker: str, title: str,
                    content: str) -> str:
        """Update the record's note that carries `marker`, or add it."""
        note_id = self.notes.get(marker)
        if note_id is not None:
            try:
                self.client.update_note(note_id, title, content)
                return note_id
            except Permanent:  # deleted in Zoho since it was remembered: look again
                self.notes.forget(marker)
        contents = self.client.notes(module, record_id)
        note_id = next((i for i, text in contents.items() if marker in text), None)
        if note_id is None:
            note_id = self.client.add_note(module, record_id, title, content)
        else:
            self.client.update_note(note_id, title, content)
        self.notes.put(marker, note_id)
        return note_id

    def check(self) -> str:
        self.api.start()
        self.tokens.current()  # the token in hand while it lasts: Zoho issues few per hour
        self.client.probe(self.config.module)
        domain = self.config.api_url or self.tokens.api_domain
        return f"{self.config.accounts_url} issued a token; {domain} lets it read {self.config.module}"
