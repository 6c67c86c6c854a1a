"""The `receiver` command: serve, inspect the store, replay quarantined bodies."""

import json
import os
from datetime import datetime, timezone

import click
from flask import current_app
from flask.cli import AppGroup, ScriptInfo

from . import create_app, intake
from .config import ConfigError, get_settings
from .records import format_time
from .store import events as event_store
from .store import quarantine
from .store import schema
from .store.db import get_engine, transaction


def _create_app():
    try:
        return create_app()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


@click.group(cls=AppGroup)
@click.pass_context
def main(ctx):
    """Receive Rocket.Chat Omnichannel webhooks and deliver them to CRMs."""
    # Build the app only when a command runs, so `--help` works without configuration.
    if ctx.obj is None:
        ctx.obj = ScriptInfo(create_app=_create_app, set_debug_flag=False)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _when(value: datetime | None) -> str:
    return format_time(value) if value else "-"


# --- database ---------------------------------------------------------------------------

@main.group()
def db():
    """Manage the database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision):
    """Create or migrate the tables (the Procfile's release step)."""
    schema.upgrade(get_engine(), revision)
    click.echo(f"database at revision {schema.current_revision(get_engine())}")


# --- serve ------------------------------------------------------------------------------

@main.command()
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", type=int, default=lambda: int(os.environ.get("PORT", "8000")),
              show_default="$PORT or 8000")
@click.option("--workers", type=int, default=None, help="web processes (default $WEB_CONCURRENCY or 2)")
def serve(host, port, workers):
    """Run the webhook endpoint on one machine, migrating the database first."""
    from .serve import EmbeddedGunicorn, default_workers, gunicorn_options

    app = current_app._get_current_object()
    schema.upgrade(get_engine())
    # Forked gunicorn workers must not share the parent's database connections.
    get_engine().dispose()
    options = gunicorn_options(host, port, workers or default_workers(), {})
    click.echo(f"receiving on http://{host}:{port}/webhooks/rocketchat")
    EmbeddedGunicorn(app, options).run()


# --- events -----------------------------------------------------------------------------

@main.group()
def events():
    """Inspect stored events."""


@events.command("list")
@click.option("--kind")
@click.option("--conversation", "conversation_id")
@click.option("--limit", type=int, default=50, show_default=True)
def events_list(kind, conversation_id, limit):
    """List the newest events."""
    with transaction(get_engine()) as conn:
        rows = event_store.list_events(conn, kind=kind, conversation_id=conversation_id,
                                       limit=limit)
    for row in rows:
        click.echo(f"{row.id}  {_when(row.received_at)}  {row.kind:<16} "
                   f"{row.conversation_id or '-'}{'  (test)' if row.test else ''}")


@events.command("show")
@click.argument("event_id")
@click.option("--raw", is_flag=True, help="print the body exactly as Rocket.Chat sent it")
def events_show(event_id, raw):
    """Print one event's normalized record (or raw body)."""
    with transaction(get_engine()) as conn:
        row = event_store.get_event(conn, event_id)
    if row is None:
        raise click.ClickException(f"no event {event_id}")
    if raw:
        if row.raw is None:
            raise click.ClickException(f"the raw body of {event_id} was redacted")
        click.echo(row.raw.decode("utf-8", "replace"))
    else:
        click.echo(json.dumps(row.payload, indent=2, ensure_ascii=False))


# --- quarantine -------------------------------------------------------------------------

@main.group("quarantine")
def quarantine_group():
    """Inspect and replay bodies that failed validation."""


@quarantine_group.command("list")
@click.option("--state", type=click.Choice(["held", "accepted", "discarded", "all"]),
              default="held", show_default=True)
@click.option("--limit", type=int, default=50, show_default=True)
def quarantine_list(state, limit):
    """List quarantined bodies."""
    with transaction(get_engine()) as conn:
        rows = quarantine.list_held(conn, state=None if state == "all" else state, limit=limit)
    for row in rows:
        fields = ", ".join(sorted(row.errors)) or "-"
        click.echo(f"#{row.id}  {_when(row.last_received_at)}  {row.state:<9} "
                   f"{row.source_type or '(no type)'}  x{row.times_received}  fields: {fields}")


@quarantine_group.command("show")
@click.argument("held_id", type=int)
def quarantine_show(held_id):
    """Print a quarantined body and its validation errors."""
    with transaction(get_engine()) as conn:
        row = quarantine.get_held(conn, held_id)
    if row is None:
        raise click.ClickException(f"no quarantined body #{held_id}")
    click.echo(f"#{row.id} {row.state}, received {row.times_received} time(s), "
               f"last {_when(row.last_received_at)}")
    click.echo("errors: " + json.dumps(row.errors, indent=2, ensure_ascii=False))
    click.echo("body: " + row.raw.decode("utf-8", "replace"))


@quarantine_group.command("replay")
@click.argument("held_ids", type=int, nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="every held body")
def quarantine_replay(held_ids, replay_all):
    """Validate held bodies again (after an upgrade) and accept those that now pass."""
    if replay_all:
        with transaction(get_engine()) as conn:
            held_ids = [row.id for row in quarantine.list_held(conn, limit=1_000_000)]
    if not held_ids:
        raise click.UsageError("name one or more quarantine ids, or pass --all")
    failed = 0
    for held_id in held_ids:
        try:
            outcome = intake.replay_held(get_engine(), held_id, get_settings().adapters, _now())
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
    with transaction(get_engine()) as conn:
        if quarantine.get_held(conn, held_id) is None:
            raise click.ClickException(f"no quarantined body #{held_id}")
        quarantine.resolve(conn, held_id, _now())
    click.echo(f"#{held_id} discarded")
