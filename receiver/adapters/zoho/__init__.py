"""The `zoho` adapter: Contacts (or Leads) filled in, transcripts and offline messages as Notes."""

from ..api import ApiAdapter, ApiSession, Permanent
from ..base import Delivered
from ..identities import IdentityLinks
from ..matching import Matcher
from ..memo import Memo
from ..people import Person, from_event
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


class ZohoAdapter(ApiAdapter):
    """Writes each event to Zoho CRM with the refresh token of RECEIVER_ZOHO_REFRESH_TOKEN.

    Records are matched by the rules of `matching` (remembered links, then the token field,
    email and phone), filled but never overwritten; each note carries a reference line
    that a redelivery finds among the record's notes.
    """

    name = "zoho"
    test_setting = "RECEIVER_ZOHO_INCLUDE_TEST"

    def __init__(self, settings):
        super().__init__(settings)
        self.config = ZohoSettings.from_environ(settings.environ)
        self.include_test = self.config.include_test
        self.api = ApiSession("Zoho CRM", self.lease_budget(settings),
                              ZohoLimits(settings, self.config))
        self.tokens = AccessTokens(self.api, self.config)
        self.client = ZohoClient(self.api, self.tokens, self.config.api_url)
        self.modules = {module: ZohoRecords(self.client, self.config, module)
                        for module in {self.config.module, OFFLINE_MODULE}}
        protected = {self.config.token_field} if self.config.token_field else set()
        self.matcher = Matcher(
            IdentityLinks(settings.database_url, settings.store_timeout_seconds),
            search_lag=self.config.search_lag_seconds, budget=self.lease_budget(settings),
            overwrite=self.config.overwrite_fields, protected=protected)
        self.notes = Memo()  # note marker -> note id

    def write(self, event: dict) -> Delivered:
        person = from_event(event)
        offline = event["kind"] == "offline.message"
        module = OFFLINE_MODULE if offline else self.config.module
        records = self.modules[module]
        if not self.can_match(records, person):
            if event["kind"] in PASSING_KINDS:
                # Message bodies rarely carry an email; the close writes the whole transcript.
                return Delivered(detail="no email or phone to match a Zoho record on yet")
            raise Permanent("the visitor has no email or phone to match a Zoho record on (set "
                            "RECEIVER_ZOHO_VISITOR_TOKEN_FIELD to match on the visitor token)")
        match = self.matcher.match(records, person, record_fields(person, self.config, module))
        record_id = match.record_id
        references = {"module": module, "record_id": record_id}
        caution = match.caution(person.name)
        if offline:
            references["note_id"] = self.upsert_note(module, record_id,
                                                     *offline_note(event, caution))
        elif closes_conversation(event):
            references["note_id"] = self.upsert_note(module, record_id,
                                                     *transcript_note(event, caution))
        return Delivered(detail=f"Zoho {module} {record_id}", references=references)

    def can_match(self, records: ZohoRecords, person: Person) -> bool:
        """An email or phone, a token Zoho holds, or a token already linked to a record."""
        if person.email or person.phone or (person.token and self.config.token_field):
            return True
        return bool(person.token and self.matcher.linked_id(records, person))

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

    def close(self) -> None:
        super().close()
        self.matcher.close()
