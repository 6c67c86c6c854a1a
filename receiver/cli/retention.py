"""The `prune` command: keeps the database from growing without bound."""

import re
import sys
from datetime import timedelta

import click
from flask.cli import with_appcontext

from ..clock import now
from ..state import current
from ..store import retention

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
    """Delete finished events and the CRM state nothing needs (optionally redact raw bodies);
    safe while running.

    On a terminal it first says what would go and asks; run from a scheduler, it just prunes.
    """
    cutoff, engine = now() - older_than, current().engine
    options = {"keep_dead": not include_dead, "include_quarantine": prune_quarantine,
               "held_too": held_too,
               "redact_before": None if redact_raw_after is None else now() - redact_raw_after}
    if dry_run or (on_a_terminal() and not assume_yes):
        for line in _lines(retention.would_prune(engine, cutoff, now(), **options), cutoff,
                           planned=True):
            click.echo(line)
        if dry_run:
            return
        click.confirm("prune these?", abort=True)
    pruned = retention.prune(engine, cutoff, now(), **options)
    for line in _lines(pruned, cutoff):
        click.echo(line)


def on_a_terminal() -> bool:
    """Whether a person is at the keyboard to confirm."""
    return sys.stdin.isatty()


def _moment(value) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC"


# What each line says the prune did, and in a dry run, what it would do.
VERBS = {False: ("pruned", "forgot", "deleted", "redacted"),
         True: ("would prune", "would forget", "would delete", "would redact")}


def _lines(pruned: retention.Pruned, cutoff, *, planned: bool = False) -> list[str]:
    """One line per kind of row the prune touched, or with `planned`, would touch."""
    prune_, forget, delete, redact = VERBS[planned]
    since = _moment(cutoff)
    lines = [f"{prune_} {pruned.events} event(s) received before {since}",
             f"{forget} the CRM record ids of {pruned.links} conversation link(s) not updated "
             f"since {since}",
             f"{forget} the CRM note ids of {pruned.notes} conversation(s) and offline "
             f"message(s) with no event left, not written since {since}",
             f"{forget} the CRM records of {pruned.identities} visitor identifier(s) not "
             f"used since {since}",
             f"{delete} {pruned.breakers} closed circuit breaker(s) opened before {since}"]
    if pruned.quarantine is not None:
        lines.append(f"{delete} {pruned.quarantine} quarantine row(s)")
    if pruned.redacted is not None:
        lines.append(f"{redact} the raw body of {pruned.redacted} event(s)")
    return lines
