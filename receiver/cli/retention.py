"""The `prune` command: keeps the database from growing without bound."""

import re
from datetime import timedelta

import click
from flask.cli import with_appcontext

from ..store import links, retention
from ..store.db import get_engine
from ..store.transactions import transaction
from .common import now

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class Age(click.ParamType):
    """A duration such as `30d`, `12h`, `90m` or `3600` (seconds)."""

    name = "age"

    def convert(self, value, param, ctx):
        if isinstance(value, timedelta):
            return value
        match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", str(value))
        if not match:
            self.fail(f"{value!r} is not a duration like 30d, 12h, 90m or 3600", param, ctx)
        return timedelta(seconds=int(match.group(1)) * UNITS[match.group(2) or "s"])


@click.command()
@click.option("--older-than", type=Age(), default="30d", show_default=True,
              help="prune events received longer ago than this, once delivered everywhere")
@click.option("--include-dead", is_flag=True, help="also prune events whose deliveries are dead")
@click.option("--quarantine", "prune_quarantine", is_flag=True,
              help="also delete accepted and discarded quarantine rows that old")
@click.option("--held-too", is_flag=True, help="with --quarantine: held rows as well")
@click.option("--redact-raw-after", type=Age(), default=None,
              help="drop raw bodies of fully delivered events older than this")
@with_appcontext
def prune(older_than, include_dead, prune_quarantine, held_too, redact_raw_after):
    """Delete finished events and stale CRM links (optionally redact raw bodies); safe while running."""
    cutoff, engine = now() - older_than, get_engine()
    total = _in_batches(engine, lambda conn: retention.prune_events(
        conn, cutoff, keep_dead=not include_dead))
    click.echo(f"pruned {total} event(s) received before {cutoff:%Y-%m-%d %H:%M} UTC")
    with transaction(engine) as conn:
        forgotten = links.prune(conn, cutoff)
    click.echo(f"forgot the CRM record ids of {forgotten} conversation link(s) not updated since")
    if prune_quarantine:
        with transaction(engine) as conn:
            removed = retention.prune_quarantine(conn, cutoff, held_too=held_too)
        click.echo(f"deleted {removed} quarantine row(s)")
    if redact_raw_after is not None:
        redact_before = now() - redact_raw_after
        redacted = _in_batches(engine, lambda conn: retention.redact_raw(
            conn, redact_before, now()))
        click.echo(f"redacted the raw body of {redacted} event(s)")


def _in_batches(engine, batch) -> int:
    """Run `batch` in its own short transaction until it does nothing; how much it did.

    Small transactions keep web and worker processes from waiting on the prune.
    """
    total = 0
    while True:
        with transaction(engine) as conn:
            done = batch(conn)
        if not done:
            return total
        total += done
