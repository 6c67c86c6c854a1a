"""Keeps the tables from growing forever: prunes finished events and the CRM state nothing
needs any more, redacts raw bodies."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, func, not_, select, update

from .. import clock
from . import breakers, crm_notes, identities, links
from .tables import ACCEPTED, DEAD, DISCARDED, HELD, PENDING, deliveries, events, quarantine
from .transactions import reading, transaction

BATCH = 1000
# How far back each batch of notes looks for events that arrived while the prune ran: past
# the longest an event's transaction takes to commit (the store timeout, a few seconds).
ARRIVAL_MARGIN = timedelta(minutes=1)


@dataclass(frozen=True)
class Pruned:
    """How many rows of each kind a prune removed (or, in a dry run, would remove)."""

    events: int
    links: int
    notes: int = 0
    identities: int = 0
    breakers: int = 0
    quarantine: int | None = None  # None unless asked to prune quarantine rows
    redacted: int | None = None  # None unless asked to redact raw bodies


def prune(engine, older_than: datetime, now: datetime, *, keep_dead: bool = True,
          include_quarantine: bool = False, held_too: bool = False,
          redact_before: datetime | None = None) -> Pruned:
    """Delete finished events received before `older_than`, and what the CRM adapters keep
    that nothing needs since then (record ids, note ids, visitor links, closed breakers); as
    asked, quarantine rows that old and the raw bodies of events received before
    `redact_before`.

    Each batch is its own short transaction, so web and worker processes hardly wait on it.
    """
    pruned = _in_batches(engine, lambda conn: prune_events(conn, older_than,
                                                            keep_dead=keep_dead))
    with transaction(engine) as conn:
        forgotten = links.prune(conn, older_than)
    notes = prune_notes(engine, older_than, now)
    visitors = _in_batches(engine, lambda conn: identities.prune(conn, older_than, now,
                                                                 batch=BATCH))
    with transaction(engine) as conn:
        closed = breakers.prune_closed(conn, older_than)
    removed = redacted = None
    if include_quarantine:
        with transaction(engine) as conn:
            removed = prune_quarantine(conn, older_than, held_too=held_too)
    if redact_before is not None:
        redacted = _in_batches(engine, lambda conn: redact_raw(conn, redact_before, now))
    return Pruned(pruned, forgotten, notes, visitors, closed, removed, redacted)


def would_prune(engine, older_than: datetime, now: datetime, *, keep_dead: bool = True,
                include_quarantine: bool = False, held_too: bool = False,
                redact_before: datetime | None = None) -> Pruned:
    """What `prune` with these options would remove now, changing nothing."""
    with reading(engine) as conn:
        staying = not_(and_(*_finished_where(older_than, keep_dead=keep_dead)))
        return Pruned(
            count_prunable(conn, older_than, keep_dead=keep_dead),
            links.count_stale(conn, older_than),
            count_notes(conn, older_than, crm_notes.in_use(conn, staying=staying)),
            identities.count_stale(conn, older_than, now),
            breakers.count_closed(conn, older_than),
            count_quarantine(conn, older_than, held_too=held_too) if include_quarantine else None,
            count_redactable(conn, redact_before) if redact_before is not None else None,
        )


def prune_notes(engine, older_than: datetime, now: datetime, *, batch: int = BATCH) -> int:
    """Forget the note ids not written since `older_than` of conversations (and offline
    messages) with no event left in the store; how many went.

    The stored events are read once; each batch that deletes also reads those received
    since the last, so an event arriving meanwhile keeps its conversation's note.
    """
    with reading(engine) as conn:
        in_use = crm_notes.in_use(conn)
    total, after, checked = 0, None, now
    while True:
        with reading(engine) as conn:
            page = crm_notes.stale_page(conn, older_than, after, batch)
        if not page:
            return total
        after = page[-1]
        unused = [key for key in page if key[1] not in in_use]
        if not unused:  # a page of notes in use takes no write lock
            continue
        with transaction(engine) as conn:
            since, checked = checked - ARRIVAL_MARGIN, clock.now()
            in_use |= crm_notes.in_use(conn, received_since=since)
            total += crm_notes.delete_stale(conn, [key for key in unused if key[1] not in in_use],
                                            older_than)


def count_notes(conn, older_than: datetime, in_use: set[str], *, batch: int = BATCH) -> int:
    """How many of the note ids not written since `older_than` no event in `in_use` needs."""
    total, after = 0, None
    while page := crm_notes.stale_page(conn, older_than, after, batch):
        total += sum(1 for _, marker in page if marker not in in_use)
        after = page[-1]
    return total


def _in_batches(engine, batch) -> int:
    """Run `batch` in its own short transaction until it does nothing; how much it did."""
    total = 0
    while True:
        with transaction(engine) as conn:
            done = batch(conn)
        if not done:
            return total
        total += done


def _finished_where(older_than: datetime, *, keep_dead: bool) -> list:
    """What holds for events received before `older_than` with nothing left to deliver."""
    unfinished = [PENDING, DEAD] if keep_dead else [PENDING]
    blocking = exists().where(deliveries.c.event_seq == events.c.seq,
                              deliveries.c.state.in_(unfinished))
    return [events.c.received_at < older_than, ~blocking]


def _finished(older_than: datetime, *, keep_dead: bool):
    """Events received before `older_than` with nothing left to deliver."""
    return select(events.c.seq).where(*_finished_where(older_than, keep_dead=keep_dead))


def prune_events(conn, older_than: datetime, *, keep_dead: bool = True,
                 batch: int = BATCH) -> int:
    """Delete one batch of finished events (their deliveries go with them); how many went."""
    seqs = [row.seq for row in conn.execute(_finished(older_than, keep_dead=keep_dead)
                                            .order_by(events.c.seq).limit(batch))]
    if not seqs:
        return 0
    # Check again at delete time: a replay may have made a delivery pending meanwhile.
    still_pending = exists().where(deliveries.c.event_seq == events.c.seq,
                                   deliveries.c.state == PENDING)
    conn.execute(delete(deliveries).where(deliveries.c.event_seq.in_(seqs),
                                          deliveries.c.state != PENDING))
    return conn.execute(delete(events).where(events.c.seq.in_(seqs), ~still_pending)).rowcount


def count_prunable(conn, older_than: datetime, *, keep_dead: bool = True) -> int:
    """How many events `prune_events` would delete now, for a dry run."""
    finished = _finished(older_than, keep_dead=keep_dead).subquery()
    return conn.execute(select(func.count()).select_from(finished)).scalar_one()


def _stale_quarantine(older_than: datetime, held_too: bool):
    states = [ACCEPTED, DISCARDED] + ([HELD] if held_too else [])
    return quarantine.c.state.in_(states), quarantine.c.last_received_at < older_than


def prune_quarantine(conn, older_than: datetime, *, held_too: bool = False) -> int:
    """Delete resolved quarantine rows (and, if asked, held ones) last seen before `older_than`."""
    return conn.execute(delete(quarantine).where(
        *_stale_quarantine(older_than, held_too))).rowcount


def count_quarantine(conn, older_than: datetime, *, held_too: bool = False) -> int:
    """How many quarantine rows `prune_quarantine` would delete now, for a dry run."""
    return conn.execute(select(func.count()).select_from(quarantine).where(
        *_stale_quarantine(older_than, held_too))).scalar_one()


def count_redactable(conn, older_than: datetime) -> int:
    """How many raw bodies `redact_raw` would drop now, for a dry run."""
    redactable = _finished(older_than, keep_dead=True).where(events.c.raw.is_not(None)).subquery()
    return conn.execute(select(func.count()).select_from(redactable)).scalar_one()


def redact_raw(conn, older_than: datetime, now: datetime, *, batch: int = BATCH) -> int:
    """Drop the raw bodies of one batch of fully delivered events; the normalized record stays."""
    seqs = _finished(older_than, keep_dead=True).where(events.c.raw.is_not(None)) \
        .limit(batch).scalar_subquery()
    return conn.execute(update(events).where(events.c.seq.in_(seqs))
                        .values(raw=None, redacted_at=now)).rowcount
