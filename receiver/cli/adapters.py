"""The `adapters` group: list adapters, check their connections, pause and resume them."""

import click
from flask.cli import AppGroup

from ..adapters import registry
from ..clock import now
from ..health import check_adapters
from ..state import current
from ..store import breakers, pauses
from ..store.transactions import reading, transaction
from .common import AdapterName
from .tables import echo_json, echo_table, json_option


@click.group("adapters", cls=AppGroup)
def adapters_group():
    """List adapters, check their connections, pause and resume them."""


PAUSED_BY = {"operator": "by an operator", "breaker": "automatically (failing)"}


@adapters_group.command("list")
@json_option
def adapters_list(as_json):
    """Installed adapters, which ones RECEIVER_ADAPTERS turns on, and who paused which."""
    configured = current().settings.adapters
    with reading(current().engine) as conn:
        paused, automatic = pauses.paused(conn), breakers.opened(conn)
    by = {name: "breaker" if name in automatic else "operator" for name in paused}
    rows = [(name, point.value, name in configured, by.get(name))
            for name, point in sorted(registry.installed().items())]
    if as_json:
        return echo_json([{"name": name, "entry_point": value, "configured": on, "paused": who}
                          for name, value, on, who in rows])
    echo_table(("ADAPTER", "ENTRY POINT", "CONFIGURED", "PAUSED"),
               [(name, value, "yes" if on else "", PAUSED_BY.get(who, ""))
                for name, value, on, who in rows])


@adapters_group.command("check")
def adapters_check():
    """Load each configured adapter and run its connection check."""
    results = check_adapters()
    for name, result in results.items():
        click.echo(f"{name}: {result}")
    if not all(result.startswith("ok") for result in results.values()):
        raise click.exceptions.Exit(1)


@adapters_group.command("pause")
@click.argument("name", type=AdapterName())
def adapters_pause(name):
    """Stop delivering to an adapter: its deliveries wait, pending, until it is resumed."""
    with transaction(current().engine) as conn:
        changed = pauses.pause(conn, name, now())
    click.echo(f"{name} paused" if changed else f"{name} was paused already")


@adapters_group.command("resume")
@click.argument("name")
def adapters_resume(name):
    """Deliver to a paused adapter again."""
    with transaction(current().engine) as conn:
        changed = pauses.resume(conn, name, now())
    click.echo(f"{name} resumed" if changed else f"{name} was not paused")
