"""Spans of time as the CLI and the console show them, from one function."""

from datetime import datetime, timedelta, timezone

import pytest

from receiver import clock
from receiver.cli.tables import ago

T0 = datetime(2026, 12, 1, 15, 4, 5, tzinfo=timezone.utc)


@pytest.mark.parametrize(("seconds", "shown"), [
    (0, "0 s"),
    (59.9, "59 s"),
    (60, "1 min"),
    (3599, "59 min"),
    (3600 + 5 * 60 + 7, "1 h 5 min"),
    (86400 * 4 + 3600 + 59, "4 d 1 h"),
    (-90, "1 min"),  # a span is a length: which side of now it falls is the caller's to say
])
def test_span(seconds, shown):
    assert clock.span(seconds) == shown


def test_since_takes_a_naive_time_as_utc():
    assert clock.since(T0.replace(tzinfo=None), T0 + timedelta(minutes=3)) == 180


def test_a_listing_says_how_long_ago_or_how_long_until():
    assert ago(T0, T0 + timedelta(seconds=12)) == "2026-12-01 15:04:05 (12 s ago)"
    assert ago(T0, T0 - timedelta(hours=2, minutes=5)) == "2026-12-01 15:04:05 (in 2 h 5 min)"
    assert ago(None) == "-"
