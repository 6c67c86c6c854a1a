"""The `prune` command: keeps the database from growing without bound."""

import re
import sys
from datetime import timedelta

import click
from flask.cli import with_appcontext

from ..clock import now
from ..state import current
from ..store import links, retention
from ..store.transactions import reading, transaction

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
@click.option("--dry-run", is_flag=True, help="say what would be pruned, and change nothing")
@click.option("--yes", "-y", "assume_yes", is_flag=True,
              help="prune without asking, even on a terminal")
@with_appcontext
def prune(older_than, include_dead, prune_quarantine, held_too, redact_raw_after, dry_run,
          assume_yes):
    """Delete finished events and stale CRM links (optionally redact raw bodies); safe while running.

    On a terminal it first says what would go and asks; run from a scheduler, it just prunes.
    """
    cutoff, engine = now() - older_than, current().engine
    redact_before = None if redact_raw_after is None else now() - redact_raw_after
    if dry_run or (on_a_terminal() and not assume_yes):
        for line in _plan(engine, cutoff, include_dead, prune_quarantine, held_too, redact_before):
            click.echo(line)
        if dry_run:
            return
        click.confirm("prune these?", abort=True)
    total = _in_batches(engine, lambda conn: retention.prune_events(
        conn, cutoff, keep_dead=not include_dead))
    click.echo(f"pruned {total} event(s) received before {_moment(cutoff)}")
    with transaction(engine) as conn:
        forgotten = links.prune(conn, cutoff)
    click.echo(f"forgot the CRM record ids of {forgotten} conversation link(s) not updated "
               f"since {_moment(cutoff)}")
    if prune_quarantine:
        with transaction(engine) as conn:
            removed = retention.prune_quarantine(conn, cutoff, held_too=held_too)
        click.echo(f"deleted {removed} quarantine row(s)")
    if redact_before is not None:
        redacted = _in_batches(engine, lambda conn: retention.redact_raw(
            conn, redact_before, now()))
        click.echo(f"redacted the raw body of {redacted} event(s)")


def on_a_terminal() -> bool:
    """Whether a person is at the keyboard to confirm."""
    return sys.stdin.isatty()


def _moment(value) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC"


def _plan(engine, cutoff, include_dead, prune_quarantine, held_too, redact_before) -> list[str]:
    """What a prune with these options would do now, one line per kind of row."""
    with reading(engine) as conn:
        lines = [
            f"would prune {retention.count_prunable(conn, cutoff, keep_dead=not include_dead)} "
            f"event(s) received before {_moment(cutoff)}",
            f"would forget the CRM record ids of {links.count_stale(conn, cutoff)} "
            f"conversation link(s) not updated since {_moment(cutoff)}",
        ]
        if prune_quarantine:
            count = retention.count_quarantine(conn, cutoff, held_too=held_too)
            lines.append(f"would delete {count} quarantine row(s)")
        if redact_before is not None:
            count = retention.count_redactable(conn, redact_before)
            lines.append(f"would redact the raw body of {count} event(s)")
    return lines


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
