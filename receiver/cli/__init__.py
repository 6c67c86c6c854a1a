"""The `receiver` command: a Flask CLI group whose app is built only when a command runs."""

import click
from flask.cli import ScriptInfo

from .. import create_app
from ..config import ConfigError
from . import (
    adapters, db, deliveries, events, quarantine, replay, retention, sendtest, serve, worker,
)
from .errors import ReceiverGroup


def _create_app():
    try:
        return create_app(for_commands=True)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


@click.group(cls=ReceiverGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rocketchat-crm-receiver", prog_name="receiver")
@click.pass_context
def main(ctx):
    """Receive Rocket.Chat Omnichannel webhooks and deliver them to CRMs."""
    # Build the app only when a command runs, so `--help` works without configuration.
    if ctx.obj is None:
        ctx.obj = ScriptInfo(create_app=_create_app, set_debug_flag=False)


for command in (db.db, serve.serve, worker.worker, events.events, quarantine.quarantine_group,
                deliveries.deliveries_group, replay.replay, adapters.adapters_group,
                retention.prune, sendtest.send_test):
    main.add_command(command)
