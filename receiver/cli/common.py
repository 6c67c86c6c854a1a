"""Small helpers the command modules share."""

from datetime import datetime

import click

from ..adapters import registry
from ..records import format_time
from ..state import current
from ..store.transactions import reading


def when(value: datetime | None) -> str:
    """A time for a listing, or `-`."""
    return format_time(value) if value else "-"


class AdapterName(click.ParamType):
    """The name of an installed adapter; a typo is an error, not an empty listing."""

    name = "adapter"

    def convert(self, value, param, ctx):
        installed = registry.installed()
        if value not in installed:
            self.fail(f"no adapter {value!r} is installed (installed: "
                      f"{', '.join(sorted(installed))})", param, ctx)
        return value


def read_one(read, missing: str):
    """What `read(conn)` finds in the store, or an error saying `missing` when it finds nothing."""
    with reading(current().engine) as conn:
        row = read(conn)
    if row is None:
        raise click.ClickException(missing)
    return row
