"""Small helpers the command modules share."""

from datetime import datetime, timezone

from ..records import format_time


def now() -> datetime:
    return datetime.now(timezone.utc)


def when(value: datetime | None) -> str:
    """A time for a listing, or `-`."""
    return format_time(value) if value else "-"
