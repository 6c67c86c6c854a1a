"""The console's pages: each reads in one read-only transaction and renders one template."""

import json
from datetime import datetime

from flask import Response, abort, render_template, request

from .. import clock
from ..records import KINDS
from ..state import current
from ..store import events as event_store
from ..store import breakers, pauses
from ..store import quarantine as quarantine_store
from ..store.transactions import reading
from . import backlog, bp, charts, checks, queries
from .records import record_links

CHART_HOURS = 48
OUTCOMES = ("delivered", "retry", "failed")


def _page(template: str, **values) -> Response:
    html = render_template(f"console/{template}", now=clock.now(), **values)
    # Stored text may hold lone surrogates (Rocket.Chat sent them as \ud800 escapes),
    # which UTF-8 cannot encode: they are shown as "?" rather than failing the page.
    return Response(html.encode("utf-8", "replace"), mimetype="text/html")


@bp.get("/")
def overview():
    """Backlog per adapter, quarantine, and the last 48 hours in two charts."""
    settings, moment = current().settings, clock.now()
    hours = backlog.hours(moment, CHART_HOURS)
    since = hours[0]
    with reading(current().engine) as conn:
        counts = backlog.adapter_counts(conn, settings.adapters)
        held = backlog.held_count(conn)
        paused = pauses.paused(conn)
        received = backlog.events_per_hour(conn, since)
        attempted = backlog.attempts_per_hour(conn, since)
    keys = [backlog.hour_key(hour) for hour in hours]
    return _page(
        "overview.html", counts=counts, held=held, paused=paused,
        received=charts.single("Events received per hour, last 48 hours (UTC)", keys,
                               received, "events"),
        attempts=charts.stacked("Delivery attempts per hour by outcome, last 48 hours (UTC)",
                                keys, attempted, OUTCOMES),
    )


@bp.get("/conversations")
def conversations():
    """Search conversations, or list the latest ones."""
    text = (request.args.get("q") or "").strip()[:200]
    with reading(current().engine) as conn:
        found = queries.conversations(conn, text or None)
    return _page("conversations.html", q=text, conversations=found)


@bp.get("/conversations/<path:room_id>")
def conversation(room_id):
    """One room: who, its events in order with their deliveries, transcript, CRM records."""
    with reading(current().engine) as conn:
        timeline = queries.timeline(conn, room_id)
        if not timeline:
            abort(404)
        delivered = queries.event_deliveries(conn, [event.seq for event in timeline])
        references = queries.crm_references(conn, room_id)
    latest = timeline[-1].payload
    return _page(
        "conversation.html", room_id=room_id, timeline=timeline, deliveries=delivered,
        contact=latest.get("contact") or {}, room=latest.get("conversation") or {},
        agents=_agents(timeline), state=_state(timeline), transcript=_transcript(timeline),
        records=record_links(references, current().settings.environ),
    )


def _agents(timeline) -> list[str]:
    names = []
    for event in timeline:
        for role in ("agent", "previous_agent"):
            agent = event.payload.get(role) or {}
            name = agent.get("name") or agent.get("username")
            if name:
                names.append(name)
    return list(dict.fromkeys(names))


def _state(timeline) -> str:
    kinds = [event.kind for event in timeline]
    if "chat.closed" in kinds:
        return "closed"
    if any(kind in ("chat.taken", "chat.forwarded", "message.agent") for kind in kinds):
        return "open, with an agent"
    if "chat.queued" in kinds:
        return "queued"
    return "open"


def _transcript(timeline) -> list[dict]:
    """The closing event's messages if one carries them, else the messages of each event."""
    for event in reversed(timeline):
        if event.kind == "chat.closed" and event.payload.get("messages"):
            return event.payload["messages"]
    messages = {}
    for event in timeline:
        for message in event.payload.get("messages") or []:
            messages[message.get("id") or id(message)] = message  # an edit replaces it
    return list(messages.values())


@bp.get("/events")
def events_list():
    """Events newest first, by kind, in keyset pages."""
    kind = request.args.get("kind") or None
    if kind not in (None, *KINDS):
        kind = None
    before = request.args.get("before", type=int)
    after = request.args.get("after", type=int)
    with reading(current().engine) as conn:
        page = queries.event_page(conn, kind=kind, before=before, after=after)
    return _page("events.html", page=page, kind=kind, kinds=KINDS)


@bp.get("/events/<event_id>")
def event(event_id):
    """One event: normalized record, raw body, every delivery attempt."""
    with reading(current().engine) as conn:
        stored = event_store.get_event(conn, event_id[:40])
        if stored is None:
            abort(404)
        delivered = queries.event_deliveries(conn, [stored.seq], with_history=True)[stored.seq]
    raw = stored.raw.decode("utf-8", "replace") if stored.raw is not None else None
    return _page("event.html", event=stored, deliveries=delivered, raw=raw,
                 record=json.dumps(stored.payload, indent=2, ensure_ascii=False))


@bp.get("/dead-letters")
def dead_letters():
    """Dead letters, newest first, with Retry per row and Retry all per adapter."""
    with reading(current().engine) as conn:
        dead_by_adapter = backlog.dead_by_adapter(conn)
        rows = backlog.dead_letters(conn, sorted(dead_by_adapter))
    return _page("dead_letters.html", rows=rows, dead_by_adapter=dead_by_adapter,
                 configured=current().settings.adapters, limit=backlog.DEAD_LIMIT)


@bp.get("/quarantine")
def quarantine():
    """Held bodies with Replay and Discard."""
    with reading(current().engine) as conn:
        rows = quarantine_store.list_held(conn, limit=100)
    return _page("quarantine.html", rows=rows)


@bp.get("/quarantine/<int:held_id>")
def held_body(held_id):
    """One held body, byte for byte, with its errors."""
    with reading(current().engine) as conn:
        held = quarantine_store.get_held(conn, held_id)
    if held is None:
        abort(404)
    return _page("held.html", held=held, raw=held.raw.decode("utf-8", "replace"),
                 errors=json.dumps(held.errors, indent=2, ensure_ascii=False))


@bp.get("/adapters")
def adapters():
    """Each configured adapter: its last check and whether it is paused."""
    with reading(current().engine) as conn:
        paused = pauses.paused(conn)
        automatic = breakers.opened(conn)
    latest = checks.cached()
    return _page("adapters.html", names=current().settings.adapters, paused=paused,
                 automatic=automatic,
                 checks=latest, checked_at=checks.checked_at())


@bp.app_template_filter("when")
def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "–"


@bp.app_template_filter("age")
def age(value: datetime | None) -> str:
    """How long ago, roughly: `3 min`, `2 h 5 min`, `4 d 1 h`."""
    if value is None:
        return "–"
    return clock.span(max(clock.since(value), 0))

