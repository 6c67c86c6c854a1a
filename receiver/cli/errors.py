"""Turns what goes wrong in a command into one line naming what to fix, never a traceback."""

import logging
import os

import click
from flask.cli import AppGroup
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.exc import TimeoutError as SATimeoutError

from ..config import ConfigError
from ..store.schema import MissingMigrations
from ..store.transactions import StoreUnavailable

DATABASE_ERRORS = (DBAPIError, SATimeoutError, StoreUnavailable, NoSuchModuleError, ArgumentError)


def shown_url(url: str | None) -> str:
    """A database URL as it may be printed: without its password."""
    if not url:
        return "the default SQLite file"
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(url)


def database_problem(error: BaseException) -> str:
    """The first line the driver gave, without SQLAlchemy's statement and background link."""
    cause = error.__cause__ if isinstance(error, StoreUnavailable) and error.__cause__ else error
    cause = getattr(cause, "orig", None) or cause
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return lines[0] if lines else type(cause).__name__


def wants_traceback() -> bool:
    """RECEIVER_LOG_LEVEL=DEBUG shows the whole traceback, for a bug report."""
    return os.environ.get("RECEIVER_LOG_LEVEL", "").strip().upper() == "DEBUG"


class ReceiverGroup(AppGroup):
    """A command group whose commands end in one line, not a traceback, when a setting is wrong."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (ConfigError, MissingMigrations) as error:
            raise click.ClickException(str(error)) from None
        except DATABASE_ERRORS as error:
            if wants_traceback():
                logging.getLogger("receiver").exception("database error")
            url = shown_url(os.environ.get("DATABASE_URL"))
            raise click.ClickException(
                f"cannot use the database at {url} (DATABASE_URL): {database_problem(error)}"
            ) from None
