"""The `events` group: list and show stored events."""

import click
from flask.cli import AppGroup

from ..records import KINDS, format_time
from ..state import current
from ..store import events as event_store
from ..store.transactions import reading
from .common import read_one
from .tables import ago, echo_json, echo_table, json_option


@click.group(cls=AppGroup)
def events():
    """Inspect stored events."""


@events.command("list")
@click.option("--kind", type=click.Choice(KINDS), help="only events of this kind")
@click.option("--conversation", "conversation_id", help="only this room's events")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@json_option
def events_list(kind, conversation_id, limit, as_json):
    """List the newest events."""
    with reading(current().engine) as conn:
        rows = event_store.list_events(conn, kind=kind, conversation_id=conversation_id,
                                       limit=limit)
    if as_json:
        return echo_json([{"id": row.id, "kind": row.kind, "conversation_id": row.conversation_id,
                           "received_at": format_time(row.received_at), "test": row.test}
                          for row in rows])
    echo_table(("EVENT", "RECEIVED", "KIND", "CONVERSATION", ""),
               [(row.id, ago(row.received_at), row.kind, row.conversation_id or "-",
                 "(test)" if row.test else "") for row in rows])


@events.command("show")
@click.argument("event_id")
@click.option("--raw", is_flag=True, help="print the body exactly as Rocket.Chat sent it")
def events_show(event_id, raw):
    """Print one event's normalized record (it is JSON already), or its raw body."""
    row = read_one(lambda conn: event_store.get_event(conn, event_id), f"no event {event_id}")
    if raw:
        if row.raw is None:
            raise click.ClickException(f"the raw body of {event_id} was redacted")
        click.echo(row.raw.decode("utf-8", "replace"))
    else:
        echo_json(row.payload)
