"""What the HubSpot and Zoho adapters share: match or create the visitor's record, then write
the conversation's (or offline message's) note, for several deliveries at once.

Each vendor supplies its client and mapping through the hooks of `CrmAdapter`. The record ids
of each identifier and the note id of each conversation are kept in the receiver's database
(`identities.IdentityLinks`), so a restart or another worker process does not look them up
again. A note's create is noted in the database before it is sent: when its answer is lost,
the next attempt looks for the note by its reference line before creating it.
"""

from dataclasses import dataclass
from functools import partial

from .api import ApiAdapter, ApiError, ApiSession, Permanent, Transient
from .base import Delivered, Failed, Outcome, RetryLater
from .identities import IdentityLinks
from .lookups import LookedUp
from .matching import Creating, Match, Matcher, Records, Unfound, keys_of
from .own_engine import OwnEngine
from .people import Person, from_event

BATCH_SIZE = 100  # HubSpot's and Zoho's batch calls take up to 100 records each


@dataclass
class Job:
    """One delivery of a batch: its event, the visitor and record module, and what came of it."""

    event: dict
    person: Person
    records: Records
    wanted: dict
    match: Match | None = None
    note: tuple | None = None  # (marker, the vendor's note content)
    note_id: str | None = None
    outcome: Outcome | None = None

    def fail(self, error: ApiError) -> None:
        """This delivery's outcome is the error's; the others of its batch go on."""
        self.outcome = RetryLater(error.reason, error.delay) if isinstance(error, Transient) \
            else Failed(error.reason)


def rounds(jobs: list[Job]) -> list[list[Job]]:
    """The jobs in rounds where no two share an identifier, each visitor's in their order: a
    returning visitor with two conversations due is matched once, then found linked."""
    placed: list[list[Job]] = []
    last_round: dict[tuple, int] = {}
    for job in jobs:
        keys = [(job.records.scope, key) for key in keys_of(job.person)]
        index = max((last_round[key] + 1 for key in keys if key in last_round), default=0)
        if index == len(placed):
            placed.append([])
        placed[index].append(job)
        for key in keys:
            last_round[key] = index
    return placed


class CrmAdapter(ApiAdapter):
    """Base of the CRM adapters: deliveries in batches, one outcome each.

    A vendor's subclass sets `self.api`, `self.client` and `self.include_test` through
    `start(...)` and implements the hooks below.
    """

    batch_size = BATCH_SIZE

    def __init__(self, settings, config=None):
        super().__init__(settings, config)
        # One engine on the receiver's database for the links, notes and rate budget alike.
        self.own = OwnEngine(settings.database_url, settings.store_timeout_seconds)

    def start(self, settings, service: str, protected=frozenset(), limits=None) -> None:
        """The session (spending the account's shared rate budget, `limits`), the database's
        memory of records and notes, and the matcher, over the settings `Adapter` parsed."""
        config = self.config
        self.include_test = config.include_test
        self.api = ApiSession(service, self.lease_budget(settings), limits)
        self.memory = IdentityLinks(self.own)
        self.matcher = Matcher(self.memory, search_lag=config.search_lag_seconds,
                               budget=self.lease_budget(settings),
                               overwrite=config.overwrite_fields, protected=protected)

    # Hooks --------------------------------------------------------------------------------

    def records_for(self, event: dict) -> Records:
        """The module the event's record belongs to."""
        raise NotImplementedError

    def wanted(self, person: Person, records: Records) -> dict:
        """The record's fields the event knows."""
        raise NotImplementedError

    def unmatched(self, event: dict, person: Person, records: Records) -> Outcome | None:
        """The outcome of an event whose visitor cannot be matched, or None if it can be."""
        raise NotImplementedError

    def note_of(self, event: dict, caution: str | None) -> tuple | None:
        """(marker, content) of the note the event writes, if it writes one."""
        raise NotImplementedError

    def delivered(self, job: Job) -> Delivered:
        """The outcome of a job done, naming its record (and note)."""
        raise NotImplementedError

    def look_up(self, jobs: list[Job]) -> dict:
        """Look the visitors of `jobs` up in the CRM at once, ahead of matching them one by
        one: each module's records as a view that answers from what was found (by default,
        nothing is looked up ahead)."""
        return {}

    def create_notes(self, records: Records, jobs: list[Job]) -> None:
        """Create each job's note on its record, setting its `note_id`, or `fail` it."""
        raise NotImplementedError

    def update_note(self, records: Records, note_id: str, content) -> bool:
        """Rewrite a note; False when the CRM has no such note (deleted since)."""
        raise NotImplementedError

    def find_note(self, records: Records, record_id: str, marker: str) -> str | None:
        """The id of the record's note that carries `marker`, if it has one."""
        raise NotImplementedError

    # The algorithm ------------------------------------------------------------------------

    def write(self, event: dict) -> Delivered:
        """One event as a batch of one; its error raised, as ApiAdapter.deliver expects."""
        (job,) = self.run([event])
        if isinstance(job.outcome, Delivered):
            return job.outcome
        raise (Transient(job.outcome.reason, job.outcome.delay)
               if isinstance(job.outcome, RetryLater) else Permanent(job.outcome.reason))

    def deliver_batch(self, events: list[dict]) -> list[Outcome]:
        outcomes = [self.skipped(event) for event in events]
        wanted = [event for event, outcome in zip(events, outcomes) if outcome is None]
        if wanted:
            self.api.start()  # one time budget for the batch's calls
            done = iter(self.run(wanted))
            outcomes = [outcome or next(done).outcome for outcome in outcomes]
        return outcomes

    def skipped(self, event: dict) -> Outcome | None:
        """Delivered without a call: a test event the operator did not ask to send."""
        if event.get("test") and not self.include_test:
            return Delivered(detail=f"test event not sent (set {self.test_setting} to send it)")
        return None

    def run(self, events: list[dict]) -> list[Job]:
        """Each event matched to its record and its note written, with one outcome each."""
        jobs = []
        for event in events:
            person = from_event(event)
            records = self.records_for(event)
            job = Job(event, person, records, self.wanted(person, records))
            try:
                job.outcome = self.unmatched(event, person, records)
            except ApiError as error:  # the database, asked for a remembered link
                job.fail(error)
            jobs.append(job)
        for batch in rounds([job for job in jobs if job.outcome is None]):
            self.match(batch)
            self.write_notes([job for job in batch if job.outcome is None and job.note])
            for job in batch:
                job.outcome = job.outcome or self.delivered(job)
        return jobs

    def match(self, jobs: list[Job]) -> None:
        """Match each job's visitor, with their links read from the database and what
        `look_up` found at once for them all, then create the records of those not found
        together, send the updates together, and write the links together."""
        identifiers: dict[str, list[str]] = {}
        for job in jobs:
            identifiers.setdefault(job.records.scope, []).extend(keys_of(job.person))
        try:
            self.matcher.read_ahead(identifiers)
        except ApiError as error:  # the database
            for job in jobs:
                job.fail(error)
            return
        # The round's links are written together once its visitors are matched.
        self.matcher.defer_links()
        try:
            self.matched(jobs)
            self.matcher.write_links()
        except ApiError as error:  # the database, writing the links
            for job in jobs:
                if job.outcome is None:
                    job.fail(error)
        finally:
            self.matcher.end_round()

    def matched(self, jobs: list[Job]) -> None:
        """`match`, with the links read."""
        try:
            views = self.look_up(jobs)
        except ApiError as error:
            for job in jobs:
                job.fail(error)
            return
        if len(jobs) > 1:  # updates held back, to be sent together
            for job in jobs:
                views.setdefault(job.records, LookedUp(job.records))
        unfound: dict[Records, list[tuple[Job, Unfound]]] = {}
        for job in jobs:
            self.advance(job, partial(self.matcher.begin, self.view(views, job), job.person,
                                      job.wanted), Unfound, unfound)
        creating: dict[Records, list[tuple[Job, Creating]]] = {}
        for records, visitors in unfound.items():
            try:
                claims = self.matcher.claim_all(records.scope,
                                                [visitor for _, visitor in visitors])
            except ApiError as error:  # the database
                for job, _ in visitors:
                    job.fail(error)
                continue
            for (job, visitor), claim in zip(visitors, claims):
                self.advance(job, partial(self.matcher.claimed, self.view(views, job),
                                          job.person, visitor, claim), Creating, creating)
        for records, claims in creating.items():
            made = self.create_records(records, [claim.wanted for _, claim in claims])
            for (job, claim), result in zip(claims, made):
                try:
                    job.match = self.matcher.complete(self.view(views, job), job.person,
                                                      claim, result)
                except ApiError as error:
                    job.fail(error)
        for view in views.values():
            if view.updates:
                self.send_updates(view)
        for job in jobs:
            if job.match is not None and job.outcome is None:
                job.note = self.note_of(job.event, job.match.caution(job.person.name))

    @staticmethod
    def advance(job: Job, step, unfinished: type, waiting: dict) -> None:
        """Run one step of `job`'s match: its failure fails the job; a step that leaves it
        `unfinished` waits in `waiting`, by module, for the next; any other gives its match."""
        try:
            begun = step()
        except ApiError as error:
            job.fail(error)
            return
        if isinstance(begun, unfinished):
            waiting.setdefault(job.records, []).append((job, begun))
        else:
            job.match = begun

    @staticmethod
    def view(views: dict, job: Job) -> Records:
        """The job's module as the batch sees it, with `job` in hand for its updates."""
        view = views.get(job.records)
        if view is None:
            return job.records
        view.job = job
        return view

    def send_updates(self, view: LookedUp) -> None:
        """Send the updates the matcher held back; a job whose update failed fails, and
        the fields of one whose update was sent are kept as synced."""
        updates, view.updates = view.updates, []
        errors = self.update_records(view.records, [(record_id, fields)
                                                    for _, record_id, fields in updates])
        failed = {id(job) for (job, _, _), error in zip(updates, errors) if error is not None}
        for (job, _, _), error in zip(updates, errors):
            if error is not None and job.outcome is None:
                job.fail(error)
        for job in {id(job): job for job, _, _ in updates}.values():
            if job.match is None:
                continue
            try:
                self.matcher.synced(view.records, job.person, job.wanted, job.match,
                                    sent=id(job) not in failed)
            except ApiError as error:
                job.fail(error)

    def update_records(self, records: Records,
                       updates: list[tuple[str, dict]]) -> list[ApiError | None]:
        """Update each record (id, fields): None, or the error, in order; by default one
        call each."""
        errors = []
        for record_id, fields in updates:
            try:
                records.update(record_id, fields)
                errors.append(None)
            except ApiError as error:
                errors.append(error)
        return errors

    def create_records(self, records: Records,
                       wanted: list[dict]) -> list[tuple[str, bool] | ApiError]:
        """Create a record for each of `wanted`: (id, True if a unique field's value already
        belonged to it) or the error, in order; by default one call each."""
        made = []
        for fields in wanted:
            try:
                made.append(records.create(fields))
            except ApiError as error:
                made.append(error)
        return made

    def write_notes(self, jobs: list[Job]) -> None:
        """Rewrite the notes the database knows, create the others (in one call per module)."""
        for scope in {job.records.scope for job in jobs}:
            mine = [job for job in jobs if job.records.scope == scope]
            try:
                known = self.memory.notes(scope, [job.note[0] for job in mine])
            except ApiError as error:
                for job in mine:
                    job.fail(error)
                continue
            creating = []
            for job in mine:
                try:
                    if not self.rewrote(job, known):
                        creating.append(job)
                except ApiError as error:
                    job.fail(error)
            if creating:
                self.created(creating[0].records, creating)

    def rewrote(self, job: Job, known: dict) -> bool:
        """Rewrite the job's note if the database or, after a lost answer, the CRM knows it."""
        marker, content = job.note
        scope, record_id = job.records.scope, job.match.record_id
        note_id = known.get(marker)
        if marker in known and note_id is None:  # a create went out and its answer was lost
            note_id = self.find_note(job.records, record_id, marker)
        if note_id is not None and not self.update_note(job.records, note_id, content):
            self.memory.forget_note(scope, marker)  # deleted in the CRM: look for it again
            note_id = self.find_note(job.records, record_id, marker)
            if note_id is not None and not self.update_note(job.records, note_id, content):
                note_id = None
        if note_id is None:
            return False
        if known.get(marker) != note_id:
            self.memory.remember_notes(scope, {marker: note_id})
        job.note_id = note_id
        return True

    def created(self, records: Records, jobs: list[Job]) -> None:
        """Create the jobs' notes, noted in the database first so a lost answer is found."""
        scope = records.scope
        try:
            self.memory.sending_notes(scope, [job.note[0] for job in jobs])
            self.create_notes(records, jobs)
        except ApiError as error:
            for job in jobs:
                job.fail(error)
            return
        made = {job.note[0]: job.note_id for job in jobs if job.note_id}
        try:
            if made:
                self.memory.remember_notes(scope, made)
        except ApiError as error:  # kept as sent: the next attempt finds them in the CRM
            for job in jobs:
                job.fail(error)
        for job in jobs:
            if job.note_id is None and isinstance(job.outcome, Failed):
                self.refused(job)

    def refused(self, job: Job) -> None:
        """A note the CRM refused: if its record is gone, match the visitor again next time."""
        try:
            self.memory.forget_note(job.records.scope, job.note[0])
            if job.records.read(job.match.record_id) is None:
                self.matcher.forget(job.records, job.match.record_id)
                job.outcome = RetryLater(f"the record {job.match.record_id} was deleted or "
                                         "merged; the visitor is matched again on the next try")
        except ApiError as error:
            job.fail(error)

    def close(self) -> None:
        super().close()
        self.matcher.close()
        self.own.close()
