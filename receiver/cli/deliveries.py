"""Commands over deliveries: list, show, retry dead letters, replay, check adapters."""

import click
from flask.cli import AppGroup, with_appcontext

from ..adapters import registry
from ..config import get_settings
from ..health import check_adapters
from ..store import deliveries
from ..store.db import get_engine
from ..store.tables import DELIVERY_STATES
from ..store.transactions import reading, transaction
from .common import now, when


@click.group("deliveries", cls=AppGroup)
def deliveries_group():
    """Inspect deliveries and retry dead letters."""


@deliveries_group.command("list")
@click.option("--state", type=click.Choice(DELIVERY_STATES))
@click.option("--adapter")
@click.option("--event", "event_id")
@click.option("--limit", type=int, default=50, show_default=True)
def deliveries_list(state, adapter, event_id, limit):
    """List deliveries, newest first."""
    with reading(get_engine()) as conn:
        rows = deliveries.list_deliveries(conn, state=state, adapter=adapter,
                                          event_id=event_id, limit=limit)
    for row in rows:
        click.echo(f"{row.id:>6}  {row.state:<9} {row.adapter:<10} {row.event_id}  "
                   f"{row.kind:<16} attempts={row.attempts}  due={when(row.due_at)}")


@deliveries_group.command("summary")
def deliveries_summary():
    """Count deliveries per adapter and state."""
    with reading(get_engine()) as conn:
        counts = deliveries.count_by_state(conn)
    for (adapter, state), total in sorted(counts.items()):
        click.echo(f"{adapter:<10} {state:<9} {total}")


@deliveries_group.command("show")
@click.argument("delivery_id", type=int)
def deliveries_show(delivery_id):
    """Show one delivery and why it last failed."""
    with reading(get_engine()) as conn:
        row = deliveries.get_delivery(conn, delivery_id)
    if row is None:
        raise click.ClickException(f"no delivery {delivery_id}")
    for label, value in (
        ("delivery", row.id), ("event", f"{row.event_id} ({row.kind})"),
        ("adapter", row.adapter), ("conversation", row.conversation_id or "-"),
        ("state", row.state), ("attempts", row.attempts),
        ("last attempt", when(row.last_attempt_at)), ("next due", when(row.due_at)),
        ("finished", when(row.finished_at)), ("leased by", row.lease_owner or "-"),
        ("last error", row.last_error or "-"),
    ):
        click.echo(f"{label:>13}: {value}")


@deliveries_group.command("retry")
@click.argument("delivery_ids", type=int, nargs=-1)
@click.option("--adapter", help="every dead letter of this adapter")
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
@click.option("--adapter", required=True, help="the adapter to deliver to")
@with_appcontext
def replay(event_id, adapter):
    """Deliver a stored event to an adapter again (or for the first time)."""
    registry.check_names([adapter])
    with transaction(get_engine()) as conn:
        if not deliveries.replay(conn, event_id, adapter, now()):
            raise click.ClickException(f"no event {event_id}")
    click.echo(f"{event_id} queued for {adapter}")


@click.group("adapters", cls=AppGroup)
def adapters_group():
    """List adapters and check their connections."""


@adapters_group.command("list")
def adapters_list():
    """Installed adapters, and which ones RECEIVER_ADAPTERS turns on."""
    configured = get_settings().adapters
    for name, point in sorted(registry.installed().items()):
        click.echo(f"{name:<10} {point.value}{'  (configured)' if name in configured else ''}")


@adapters_group.command("check")
def adapters_check():
    """Load each configured adapter and run its connection check."""
    results = check_adapters()
    for name, result in results.items():
        click.echo(f"{name}: {result}")
    if not all(result.startswith("ok") for result in results.values()):
        raise click.exceptions.Exit(1)
