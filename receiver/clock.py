"""The time in UTC, and spans of it as people read them, for the CLI and the console alike."""

from datetime import datetime, timezone


def now() -> datetime:
    """The current time, in UTC."""
    return datetime.now(timezone.utc)


def span(seconds: float) -> str:
    """A span, roughly, in its two largest units: `12 s`, `3 min`, `2 h 5 min`, `4 d 1 h`."""
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{seconds} s"


def in_utc(value: datetime) -> datetime:
    """`value` as an aware UTC time; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def since(value: datetime, moment: datetime | None = None) -> float:
    """Seconds from `value` (naive means UTC) to `moment`, or now; negative if `value` is later."""
    return ((moment or now()) - in_utc(value)).total_seconds()
