"""How a visitor is matched to one CRM record, and which of its fields chat data may fill.

Both CRM adapters follow these rules, tried in this order (the README repeats them):

| identifier found | record chosen | fields written |
|---|---|---|
| a link remembered in the database for the visitor's token, email or phone (tried in that order) | the linked record, by id | empty fields only |
| the visitor token, in the CRM's token field | that record | empty fields only |
| the email, in the CRM | that record | empty fields only; the note says so if the record's name differs |
| the phone, through the CRM's search | the first record found | as for the email |
| nothing | a new record, created by one delivery at a time | every field the chat knows |
| nothing, but the create answers that a unique field is taken | that record | as for the email |

Chat visitors are not verified, so a field the CRM already holds is never overwritten,
unless the operator names it in the adapter's OVERWRITE_FIELDS setting; the visitor-token
field is never overwritten. Every identifier the visitor gave is then linked to the
chosen record, so later events, conversations and worker processes update it by id; with
the link the database keeps a digest of each field synced, so an event that brings no field
beyond those (a message, or the close of a returning visitor) costs no matching call at all.
A link that matched is noted as used (once a day at most), so `receiver prune` keeps it.

A create whose answer is lost may have been made: its claim is kept for the CRM's search
lag, so no delivery creates the record again before search could show it.
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from .api import ApiError, Transient
from .. import clock
from .identities import IdentityLinks, Taken
from .memo import Memo, field_digests, fingerprint
from .people import Person
from ..store.identities import digest

CAUTIOUS = {"email": "email address", "phone": "phone number", "unique": "email address"}
CLAIM_POLL_SECONDS = 2.0
# A link used to match is noted as used at most this often: `receiver prune` keeps links in
# use, at the cost of one write per returning visitor a day.
NOTE_USE_EVERY = timedelta(days=1)
# How soon to look again at a claim still within its delivery's time budget: its create is
# most likely under way (another worker's batch with the same visitor) and linked within a
# step, so its conversation need not wait the poll of a claim whose answer was lost.
CLAIM_RACE_SECONDS = 0.5


class LostAnswer(Transient):
    """A write was sent but its answer never came: the CRM may have made it."""


class Records(Protocol):
    """One CRM module's records, as the matcher needs them."""

    scope: str  # the adapter and module, as links are kept
    placeholders: dict  # field -> the value written while the visitor had not given one

    def find(self, kind: str, value: str) -> str | None: ...
    def read(self, record_id: str) -> dict | None: ...
    def create(self, fields: dict) -> tuple[str, bool]: ...
    def update(self, record_id: str, fields: dict) -> None: ...
    def name_of(self, held: dict) -> str | None: ...


@dataclass(frozen=True)
class Match:
    """The record chosen for a visitor, how it was chosen, and the name it held then."""

    record_id: str
    matched_by: str  # created, token, email, phone, or unique (a create found it taken)
    held_name: str | None = None

    def caution(self, given_name: str | None) -> str | None:
        """A plain warning for the note when the record is someone else's by name."""
        if self.matched_by not in CAUTIOUS or not names_differ(self.held_name, given_name):
            return None
        return (f"Unverified identity: the visitor gave the name \"{given_name}\", but the "
                f"{CAUTIOUS[self.matched_by]} they typed matches this record, whose name is "
                f"\"{self.held_name}\". Chat identities are not verified: anyone can type an "
                f"email address or phone number into a chat.")


def names_differ(held: str | None, given: str | None) -> bool:
    """Both names known and different, ignoring case and spacing."""
    def normal(name):
        return " ".join((name or "").split()).casefold()
    return bool(normal(held) and normal(given)) and normal(held) != normal(given)


def keys_of(person: Person) -> list[str]:
    """The visitor's identifiers as the database keeps them, strongest first."""
    return [digest(kind, value) for kind, value in person.identifiers()]


def fields_to_write(held: dict, wanted: dict, overwrite=frozenset(), protected=frozenset(),
                    placeholders=None) -> dict:
    """The fields of `wanted` to write over `held`: empty ones (or holding a placeholder),
    and opted-in ones that differ."""
    written = {}
    for name, value in wanted.items():
        current = held.get(name)
        if current == value:
            continue
        if current in (None, "", (placeholders or {}).get(name)) or (
                name in overwrite and name not in protected):
            written[name] = value
    return written


@dataclass(frozen=True)
class Creating:
    """A visitor no record was found for: its identifiers, their rows, the fields to write,
    and the owner of the claim to create the record."""

    keys: list
    rows: dict
    wanted: dict
    owner: str | None


@dataclass(frozen=True)
class Unfound:
    """A visitor neither linked nor found in the CRM: its identifiers, their rows and the
    fields to write, for the claim to create its record (`Matcher.claim_all`)."""

    keys: list
    rows: dict
    wanted: dict


def remembered_as(records: Records, keys: list[str], wanted: dict) -> tuple:
    """What the memo keeps a match under: the module, the identifiers and the fields."""
    return records.scope, tuple(keys), fingerprint(wanted)


class Matcher:
    """Chooses and updates each visitor's record by the rules above."""

    def __init__(self, links: IdentityLinks, *, search_lag: float, budget: float,
                 overwrite=frozenset(), protected=frozenset()):
        self.links = links
        self.budget = budget
        self.claim_seconds = max(search_lag, budget)
        self.overwrite, self.protected = frozenset(overwrite), frozenset(protected)
        self.memo = Memo()  # what was matched and written last, to skip repeating it
        # A batch's links, read at once: per module, the identifiers read and their rows.
        self.ahead: dict[str, tuple[set, dict]] = {}
        # Links to write together at the end of a batch's round, per module and identifier.
        self.deferred: dict[str, dict[str, tuple]] | None = None
        # Identifiers whose links matched in the round, to note as used with its links.
        self.uses: dict[str, set[str]] = {}

    def link(self, scope: str, keys: list[str], record_id: str, matched_by: str,
             synced: str | None) -> None:
        """Link every identifier to the record: at once, or with the round's others when
        `defer_links` began one."""
        self.written(scope, keys)
        if self.deferred is None:
            self.links.link(scope, keys, record_id, matched_by, synced)
            return
        for key in keys:  # a later link of the same identifier replaces an earlier one
            self.deferred.setdefault(scope, {})[key] = (record_id, matched_by, synced)

    def defer_links(self) -> None:
        """Hold links back until `write_links`, to write a round's in one transaction."""
        self.deferred = {}

    def write_links(self) -> None:
        """Write the links held back since `defer_links`; when the store fails, forget
        what was matched, so the next attempt matches again, and raise its error."""
        deferred, self.deferred = self.deferred or {}, None
        uses, self.uses = self.uses, {}
        try:
            for scope, links in deferred.items():
                self.links.link_all(scope, links)
        except ApiError:
            self.memo.items.clear()
            raise
        for scope, keys in uses.items():
            self.note_use(scope, sorted(keys))

    def end_round(self) -> None:
        """Drop the round's read links and what it held back, written or not."""
        self.ahead, self.deferred, self.uses = {}, None, {}

    def read_ahead(self, identifiers: dict[str, list[str]]) -> None:
        """Read the links of a batch's identifiers, per module, in one query each: the
        matcher's reads of them answer from it until `end_round`, except those it has
        written since, which it reads from the store again."""
        self.ahead = {scope: (set(keys), self.links.known(scope, sorted(set(keys))))
                      for scope, keys in identifiers.items()}

    def known(self, scope: str, keys: list[str]) -> dict:
        """The links' rows of `keys`, from the batch's read when it holds them all."""
        covered, rows = self.ahead.get(scope, (set(), {}))
        if covered.issuperset(keys):
            return {key: rows[key] for key in keys if key in rows}
        return self.links.known(scope, keys)

    def written(self, scope: str, keys) -> None:
        """Keys whose rows changed: read them from the store from now on."""
        if scope in self.ahead:
            self.ahead[scope][0].difference_update(keys)

    def match(self, records: Records, person: Person, wanted: dict) -> Match:
        """The visitor's record, holding what `wanted` may fill; links remembered."""
        begun = self.begin(records, person, wanted)
        if isinstance(begun, Unfound):
            (claim,) = self.claim_all(records.scope, [begun])
            begun = self.claimed(records, person, begun, claim)
        if isinstance(begun, Match):
            return begun
        try:
            made = records.create(wanted)
        except ApiError as error:
            made = error
        return self.complete(records, person, begun, made)

    def begin(self, records: Records, person: Person, wanted: dict) -> Match | Unfound:
        """The visitor's record as `match` chooses it, or, when none is found, what
        `claim_all` needs to claim its creation (several visitors' at once)."""
        keys = keys_of(person)
        if (remembered := self.memo.get(remembered_as(records, keys, wanted))) is not None:
            return remembered
        rows = self.known(records.scope, keys)
        match = self.unchanged(keys, rows, wanted)
        if match is not None:
            self.used(records, keys, rows)
            self.memo.put(remembered_as(records, keys, wanted), match)
            return match
        match = self.linked(records, keys, rows, wanted) or self.found(records, person, wanted)
        if match is None:
            return Unfound(keys, rows, wanted)
        return self.settled_on(records, person, keys, rows, wanted, match)

    def claim_all(self, scope: str, unfound: list[Unfound]) -> list[tuple[str, object]]:
        """Claim the creation of each visitor's record, in one transaction, so that no other
        delivery makes it too: (owner, the store's answer) for each, which `claimed` reads."""
        owners = [uuid.uuid4().hex for _ in unfound]
        for visitor in unfound:
            self.written(scope, visitor.keys)
        answers = self.links.claim_all(
            scope, [(visitor.keys, owner) for visitor, owner in zip(unfound, owners)],
            clock.now() + timedelta(seconds=self.claim_seconds))
        return list(zip(owners, answers))

    def complete(self, records: Records, person: Person, creating: Creating,
                 made: tuple[str, bool] | ApiError) -> Match:
        """The record made for a claim of `begin`, given the create's (id, existed) or error."""
        if isinstance(made, LostAnswer):
            raise made  # the claim stays until search can show the record, if it was made
        if isinstance(made, ApiError):
            self.written(records.scope, creating.keys)
            self.links.release(records.scope, creating.keys, creating.owner)
            raise made
        record_id, existed = made
        if existed:
            held = records.read(record_id) or {}
            match = self.filled(records, Match(record_id, "unique", records.name_of(held)),
                                held, creating.wanted)
        else:
            match = Match(record_id, "created")
        return self.settled_on(records, person, creating.keys, creating.rows, creating.wanted,
                               match)

    def settled_on(self, records: Records, person: Person, keys: list[str], rows: dict,
                   wanted: dict, match: Match) -> Match:
        """Link every identifier to the chosen record, with the fields synced to it."""
        # A note that warns of a name needs the name the record holds, so such a match is
        # not kept as synced: the record is read again next time.
        quiet = match.caution(person.name) is None
        # Fields whose update is held back (to be sent with a batch's) are synced once sent.
        held_back = getattr(records, "holding", lambda record_id: False)(match.record_id)
        synced = " ".join(sorted(field_digests(wanted))) if quiet and not held_back else None
        if any(key not in rows or rows[key].record_id != match.record_id
               or rows[key].synced != synced for key in keys):
            self.link(records.scope, keys, match.record_id, match.matched_by, synced)
        else:
            self.used(records, keys, rows)
        self.memo.put(remembered_as(records, keys, wanted), match)
        return match

    def unchanged(self, keys: list[str], rows: dict, wanted: dict) -> Match | None:
        """The linked record, without asking the CRM, when every identifier is linked to it
        and each wanted field was synced to it before as it is now."""
        linked = [rows.get(key) for key in keys]
        if not all(row and row.record_id and row.synced for row in linked) or \
                len({row.record_id for row in linked}) != 1:
            return None
        synced = set.intersection(*(set(row.synced.split()) for row in linked))
        if not field_digests(wanted) <= synced:
            return None
        return Match(linked[0].record_id, linked[0].matched_by or "created")

    def used(self, records: Records, keys: list[str], rows: dict) -> None:
        """Note that the visitor's links matched them, once a day at most."""
        stale = clock.now() - NOTE_USE_EVERY
        if not any(row.record_id and row.updated_at and row.updated_at < stale
                   for row in rows.values()):
            return
        if self.deferred is not None:  # noted with the round's links, in one write
            self.uses.setdefault(records.scope, set()).update(keys)
            return
        self.note_use(records.scope, keys)

    def note_use(self, scope: str, keys: list[str]) -> None:
        """Write that these identifiers' links were used; a failure only costs a look-up."""
        self.written(scope, keys)
        try:
            self.links.touch(scope, keys)
        except Transient:
            pass  # the match stands; a use not noted costs one look-up after a prune at most

    def linked_id(self, records: Records, person: Person) -> str | None:
        """The record a remembered link names for the visitor, without asking the CRM."""
        keys = keys_of(person)
        rows = self.known(records.scope, keys)
        return next((rows[key].record_id for key in keys
                     if key in rows and rows[key].record_id), None)

    def linked(self, records: Records, keys: list[str], rows: dict, wanted: dict) -> Match | None:
        """The record a remembered link (one of `rows`) names, strongest identifier first."""
        for key in keys:
            row = rows.get(key)
            if row is None or row.record_id is None:
                continue
            held = records.read(row.record_id)
            if held is None:  # deleted or merged in the CRM since
                self.ahead.pop(records.scope, None)
                self.links.forget(records.scope, row.record_id)
                continue
            return self.filled(records, Match(row.record_id, row.matched_by or "created",
                                              records.name_of(held)), held, wanted)
        return None

    def found(self, records: Records, person: Person, wanted: dict) -> Match | None:
        """The record the CRM finds by token, email or phone, as the visitor wrote them."""
        for kind, _ in person.identifiers():
            record_id = records.find(kind, getattr(person, kind))
            held = records.read(record_id) if record_id else None
            if held is not None:
                return self.filled(records, Match(record_id, kind, records.name_of(held)),
                                   held, wanted)
        return None

    def claimed(self, records: Records, person: Person, visitor: Unfound,
                claim: tuple[str, object]) -> Match | Creating:
        """What a claim of `claim_all` came to: this delivery's to create the record, the
        record linked while it searched, or a retry while another delivery's claim runs."""
        owner, outcome = claim
        if isinstance(outcome, Taken):
            raise Transient("another delivery is creating this visitor's record, or lost the "
                            "answer to creating it", self.claim_poll(outcome, clock.now()))
        if outcome is None:
            return Creating(visitor.keys, visitor.rows, visitor.wanted, owner)
        held = records.read(outcome.record_id) or {}
        match = self.filled(records, Match(outcome.record_id, outcome.matched_by or "created",
                                           records.name_of(held)), held, visitor.wanted)
        return self.settled_on(records, person, visitor.keys, visitor.rows, visitor.wanted,
                               match)

    def claim_poll(self, taken: Taken, now) -> float:
        """Seconds until a delivery that met another's claim tries again."""
        wait = (taken.until - now).total_seconds()
        if self.claim_seconds - wait < self.budget:  # claimed within a delivery's budget
            return CLAIM_RACE_SECONDS
        return max(CLAIM_RACE_SECONDS, min(wait, CLAIM_POLL_SECONDS))

    def filled(self, records: Records, match: Match, held: dict, wanted: dict) -> Match:
        """Write what the record lacks (and opted-in fields), never what it holds."""
        written = fields_to_write(held, wanted, self.overwrite, self.protected,
                                  records.placeholders)
        if written:
            records.update(match.record_id, written)
        return match

    def settled(self, records: Records, person: Person, wanted: dict) -> bool:
        """True when `match` will answer without asking the CRM (same fields synced before)."""
        keys = keys_of(person)
        if self.memo.get(remembered_as(records, keys, wanted)) is not None:
            return True
        return self.unchanged(keys, self.known(records.scope, keys), wanted) is not None

    def synced(self, records: Records, person: Person, wanted: dict, match: Match,
               sent: bool) -> None:
        """Keep the visitor's link as synced once its held-back update was `sent`, or, when
        it failed, forget the match so the next event reads the record again."""
        keys = keys_of(person)
        if not sent:
            self.memo.forget(remembered_as(records, keys, wanted))
        elif match.caution(person.name) is None:
            self.link(records.scope, keys, match.record_id, match.matched_by,
                      " ".join(sorted(field_digests(wanted))))

    def forget(self, records: Records, record_id: str) -> None:
        """Forget a record the CRM no longer has, here and in the database."""
        self.ahead.pop(records.scope, None)
        self.links.forget(records.scope, record_id)
        self.memo.items.clear()  # the memo is keyed by visitor; few records are ever deleted

    def close(self) -> None:
        self.links.close()
