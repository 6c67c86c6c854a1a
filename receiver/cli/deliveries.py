"""The `deliveries` group: list, summarize and show deliveries, and retry dead letters."""

import click
from flask.cli import AppGroup

from ..clock import now
from ..state import current
from ..store import deliveries
from ..store.tables import DEAD, DELIVERED, DELIVERY_STATES, PENDING
from ..store.transactions import reading, transaction
from .common import AdapterName
from .tables import ago, as_plain, echo_json, echo_table, json_option


@click.group("deliveries", cls=AppGroup)
def deliveries_group():
    """Inspect deliveries and retry dead letters."""


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
    with reading(current().engine) as conn:
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
    with reading(current().engine) as conn:
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
    with reading(current().engine) as conn:
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
    with transaction(current().engine) as conn:
        revived = deliveries.retry_dead(conn, now(), ids=delivery_ids, adapter=adapter)
    click.echo(f"{revived} dead letter(s) pending again")
