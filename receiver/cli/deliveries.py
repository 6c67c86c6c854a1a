"""Commands over deliveries: list, show, retry dead letters, replay, check, pause and resume adapters."""

import click
from flask.cli import AppGroup, with_appcontext

from ..adapters import registry
from ..config import get_settings
from ..health import check_adapters
from ..store import breakers, deliveries, pauses
from ..store.db import get_engine
from ..store.tables import DEAD, DELIVERED, DELIVERY_STATES, PENDING
from ..store.transactions import reading, transaction
from .common import now
from .tables import ago, as_plain, echo_json, echo_table, json_option


@click.group("deliveries", cls=AppGroup)
def deliveries_group():
    """Inspect deliveries and retry dead letters."""


class AdapterName(click.ParamType):
    """The name of an installed adapter; a typo is an error, not an empty listing."""

    name = "adapter"

    def convert(self, value, param, ctx):
        installed = registry.installed()
        if value not in installed:
            self.fail(f"no adapter {value!r} is installed (installed: "
                      f"{', '.join(sorted(installed))})", param, ctx)
        return value


def next_step(row, waiting_behind: str | None) -> str:
    """What happens to the delivery next, in words."""
    if row.state == DELIVERED:
        return f"delivered {ago(row.finished_at)}"
    if row.state == DEAD:
        return f"dead since {ago(row.finished_at)}"
    if waiting_behind:
        return f"waits for {waiting_behind}, earlier in its conversation"
    return f"due {ago(row.due_at)}"


def _with_waits(conn, rows) -> list[tuple]:
    return [(row, deliveries.waiting_for(conn, row.id) if row.state == PENDING else None)
            for row in rows]


def _delivery(row, waiting_behind) -> dict:
    return {**as_plain(row), "waiting_for": waiting_behind}


@deliveries_group.command("list")
@click.option("--state", type=click.Choice(DELIVERY_STATES))
@click.option("--adapter", type=AdapterName())
@click.option("--event", "event_id")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@json_option
def deliveries_list(state, adapter, event_id, limit, as_json):
    """List deliveries, newest first."""
    with reading(get_engine()) as conn:
        rows = _with_waits(conn, deliveries.list_deliveries(
            conn, state=state, adapter=adapter, event_id=event_id, limit=limit))
    if as_json:
        return echo_json([_delivery(row, waits) for row, waits in rows])
    echo_table(("ID", "STATE", "ADAPTER", "EVENT", "KIND", "ATTEMPTS", "NEXT"),
               [(row.id, row.state, row.adapter, row.event_id, row.kind, row.attempts,
                 next_step(row, waits)) for row, waits in rows])


@deliveries_group.command("summary")
@json_option
def deliveries_summary(as_json):
    """Count deliveries per adapter and state."""
    with reading(get_engine()) as conn:
        counts = deliveries.count_by_state(conn)
    if as_json:
        return echo_json([{"adapter": adapter, "state": state, "count": total}
                          for (adapter, state), total in sorted(counts.items())])
    echo_table(("ADAPTER", "STATE", "COUNT"),
               [(adapter, state, total) for (adapter, state), total in sorted(counts.items())])


@deliveries_group.command("show")
@click.argument("delivery_id", type=int)
@json_option
def deliveries_show(delivery_id, as_json):
    """Show one delivery and why it last failed."""
    with reading(get_engine()) as conn:
        row = deliveries.get_delivery(conn, delivery_id)
        waits = row and row.state == PENDING and deliveries.waiting_for(conn, delivery_id)
    if row is None:
        raise click.ClickException(f"no delivery {delivery_id}")
    if as_json:
        return echo_json(_delivery(row, waits or None))
    for label, value in (
        ("delivery", row.id), ("event", f"{row.event_id} ({row.kind})"),
        ("adapter", row.adapter), ("conversation", row.conversation_id or "-"),
        ("state", row.state), ("attempts", row.attempts),
        ("last attempt", ago(row.last_attempt_at)), ("next", next_step(row, waits)),
        ("leased by", row.lease_owner or "-"), ("last error", row.last_error or "-"),
    ):
        click.echo(f"{label:>13}: {value}")


@deliveries_group.command("retry")
@click.argument("delivery_ids", type=int, nargs=-1)
@click.option("--adapter", type=AdapterName(), help="every dead letter of this adapter")
@click.option("--all", "retry_all", is_flag=True, help="every dead letter")
def deliveries_retry(delivery_ids, adapter, retry_all):
    """Make dead letters pending again, due now, with a fresh retry horizon."""
    if not (delivery_ids or adapter or retry_all):
        raise click.UsageError("name delivery ids, --adapter NAME, or --all")
    with transaction(get_engine()) as conn:
        revived = deliveries.retry_dead(conn, now(), ids=delivery_ids, adapter=adapter)
    click.echo(f"{revived} dead letter(s) pending again")


@click.command()
@click.argument("event_id")
@click.option("--adapter", required=True, type=AdapterName(), help="the adapter to deliver to")
@with_appcontext
def replay(event_id, adapter):
    """Deliver a stored event to an adapter again (or for the first time)."""
    with transaction(get_engine()) as conn:
        if not deliveries.replay(conn, event_id, adapter, now()):
            raise click.ClickException(f"no event {event_id}")
    click.echo(f"{event_id} queued for {adapter}")
    if adapter not in get_settings().adapters:
        click.echo(f"warning: RECEIVER_ADAPTERS does not include {adapter}, so no worker "
                   "delivers it until it does", err=True)


@click.group("adapters", cls=AppGroup)
def adapters_group():
    """List adapters, check their connections, pause and resume them."""


PAUSED_BY = {"operator": "by an operator", "breaker": "automatically (failing)"}


@adapters_group.command("list")
@json_option
def adapters_list(as_json):
    """Installed adapters, which ones RECEIVER_ADAPTERS turns on, and who paused which."""
    configured = get_settings().adapters
    with reading(get_engine()) as conn:
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
    with transaction(get_engine()) as conn:
        changed = pauses.pause(conn, name, now())
    click.echo(f"{name} paused" if changed else f"{name} was paused already")


@adapters_group.command("resume")
@click.argument("name")
def adapters_resume(name):
    """Deliver to a paused adapter again."""
    with transaction(get_engine()) as conn:
        changed = pauses.resume(conn, name, now())
    click.echo(f"{name} resumed" if changed else f"{name} was not paused")
