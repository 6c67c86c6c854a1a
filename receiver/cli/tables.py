"""Listings as tables with a header row for people, or as JSON for scripts."""

import dataclasses
import json
from datetime import datetime

import click

from .. import clock
from ..records import format_time

json_option = click.option("--json", "as_json", is_flag=True,
                           help="print JSON (times in ISO-8601 UTC) instead of a table")


def echo_table(header: tuple[str, ...], rows: list[tuple]) -> None:
    """Rows under a header, each column as wide as its widest cell; `(none)` when empty."""
    if not rows:
        click.echo("(none)")
        return
    cells = [tuple(str(cell) for cell in row) for row in [header, *rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    for row in cells:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def _plain(value):
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def as_plain(record) -> dict:
    """A dataclass row as a JSON-ready dict."""
    return {key: _plain(value) for key, value in dataclasses.asdict(record).items()}


def echo_json(value) -> None:
    text = json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate Rocket.Chat sent: print it escaped
        text = json.dumps(value, indent=2, ensure_ascii=True, allow_nan=False)
    click.echo(text)


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """A time as people read it in a listing: `2026-12-01 15:04:05 (3 min ago)`, or `-`."""
    if value is None:
        return "-"
    seconds = clock.since(value, now)
    relative = f"{clock.span(seconds)} ago" if seconds >= 0 else f"in {clock.span(seconds)}"
    return f"{clock.in_utc(value):%Y-%m-%d %H:%M:%S} ({relative})"
