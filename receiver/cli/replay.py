"""The `replay` command: deliver a stored event to an adapter again."""

import click
from flask.cli import with_appcontext

from ..clock import now
from ..state import current
from ..store import deliveries
from ..store.transactions import transaction
from .common import AdapterName


@click.command()
@click.argument("event_id")
@click.option("--adapter", required=True, type=AdapterName(), help="the adapter to deliver to")
@with_appcontext
def replay(event_id, adapter):
    """Deliver a stored event to an adapter again (or for the first time)."""
    with transaction(current().engine) as conn:
        if not deliveries.replay(conn, event_id, adapter, now()):
            raise click.ClickException(f"no event {event_id}")
    click.echo(f"{event_id} queued for {adapter}")
    if adapter not in current().settings.adapters:
        click.echo(f"warning: RECEIVER_ADAPTERS does not include {adapter}, so no worker "
                   "delivers it until it does", err=True)
