"""The `quarantine` group: inspect held bodies, replay them after an upgrade, or discard them."""

import json

import click
from flask.cli import AppGroup

from .. import intake
from ..clock import now
from ..records import format_time
from ..state import current
from ..store import quarantine
from ..store.transactions import reading, transaction
from .common import read_one, when
from .tables import ago, echo_json, echo_table, json_option


@click.group("quarantine", cls=AppGroup)
def quarantine_group():
    """Inspect and replay bodies that failed validation."""


@quarantine_group.command("list")
@click.option("--state", type=click.Choice(["held", "accepted", "discarded", "all"]),
              default="held", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@json_option
def quarantine_list(state, limit, as_json):
    """List quarantined bodies."""
    with reading(current().engine) as conn:
        rows = quarantine.list_held(conn, state=None if state == "all" else state, limit=limit)
    if as_json:
        return echo_json([_held_summary(row) for row in rows])
    echo_table(("ID", "LAST RECEIVED", "STATE", "TYPE", "TIMES", "FIELDS"),
               [(f"#{row.id}", ago(row.last_received_at), row.state,
                 row.source_type or "(no type)", row.times_received,
                 ", ".join(sorted(row.errors)) or "-") for row in rows])


def _held_summary(row) -> dict:
    return {"id": row.id, "state": row.state, "type": row.source_type,
            "times_received": row.times_received,
            "last_received_at": format_time(row.last_received_at), "errors": row.errors}


@quarantine_group.command("show")
@click.argument("held_id", type=int)
@json_option
def quarantine_show(held_id, as_json):
    """Print a quarantined body and its validation errors."""
    row = read_one(lambda conn: quarantine.get_held(conn, held_id),
                   f"no quarantined body #{held_id}")
    if as_json:
        return echo_json({**_held_summary(row), "body": row.raw.decode("utf-8", "replace")})
    click.echo(f"#{row.id} {row.state}, received {row.times_received} time(s), "
               f"last {when(row.last_received_at)}")
    click.echo("errors: " + json.dumps(row.errors, indent=2, ensure_ascii=False))
    click.echo("body: " + row.raw.decode("utf-8", "replace"))


@quarantine_group.command("replay")
@click.argument("held_ids", type=int, nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="every held body")
def quarantine_replay(held_ids, replay_all):
    """Validate held bodies again (after an upgrade) and accept those that now pass."""
    if replay_all:
        with reading(current().engine) as conn:
            held_ids = [row.id for row in quarantine.list_held(conn, limit=1_000_000)]
    if not held_ids:
        raise click.UsageError("name one or more quarantine ids, or pass --all")
    failed, receiver = 0, current()
    for held_id in held_ids:
        try:
            outcome = intake.replay_held(receiver.engine, held_id, receiver.settings.adapters,
                                         now())
        except (LookupError, intake.BadBody) as error:
            raise click.ClickException(str(error)) from None
        if isinstance(outcome, intake.Accepted):
            click.echo(f"#{held_id} accepted as {outcome.event_id} ({outcome.kind})")
        else:
            failed += 1
            click.echo(f"#{held_id} still invalid: {json.dumps(outcome.errors)}")
    if failed:
        raise click.exceptions.Exit(1)


@quarantine_group.command("discard")
@click.argument("held_id", type=int)
def quarantine_discard(held_id):
    """Mark a held body as deliberately dropped (it stays listable)."""
    with transaction(current().engine) as conn:
        if quarantine.get_held(conn, held_id) is None:
            raise click.ClickException(f"no quarantined body #{held_id}")
        quarantine.resolve(conn, held_id, now())
    click.echo(f"#{held_id} discarded")
