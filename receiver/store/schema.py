"""Creates and upgrades the database schema through Alembic."""

from functools import cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from .transactions import reading


def alembic_config(conn=None) -> Config:
    """An Alembic config that needs no alembic.ini: the scripts ship inside the package."""
    config = Config()
    config.set_main_option("script_location", "receiver:migrations")
    config.attributes["connection"] = conn
    return config


class MissingMigrations(Exception):
    """The installed package holds no migration scripts, so no schema can be made."""


def upgrade(engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (the newest by default)."""
    if head_revision() is None:
        # Alembic would report success and create nothing: every request would then fail.
        raise MissingMigrations(
            "this installation of the receiver holds no migration scripts "
            "(receiver/migrations/versions); reinstall it from a complete release")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def downgrade(engine, revision: str) -> None:
    """Step the schema back to `revision`."""
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), revision)


def current_revision(engine) -> str | None:
    """The schema revision the database is at, or None when it has none; reads without locking."""
    with reading(engine) as conn:
        return MigrationContext.configure(conn).get_current_revision()


def knows_revision(revision: str) -> bool:
    """Whether this release ships `revision` (a database can be ahead after a rollback)."""
    scripts = ScriptDirectory.from_config(alembic_config())
    try:
        return scripts.get_revision(revision) is not None
    except Exception:  # alembic's error for a revision it has no script for
        return False


@cache
def head_revision() -> str:
    """The newest revision this version of the receiver ships."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
