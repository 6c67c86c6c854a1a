"""The `db` group: manage the database schema."""

import click
from flask.cli import AppGroup

from ..state import current
from ..store import schema


@click.group(cls=AppGroup)
def db():
    """Manage the database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision):
    """Create or migrate the tables (the Procfile's release step)."""
    schema.upgrade(current().engine, revision)
    click.echo(f"database at revision {schema.current_revision(current().engine)}")
