"""The retry schedule, as a table."""

import random
from datetime import datetime, timedelta, timezone

import pytest

from receiver.retry import RetryPolicy, worth_retrying

T0 = datetime(2025, 3, 4, 12, 0, tzinfo=timezone.utc)
NO_JITTER = RetryPolicy(jitter=0)


@pytest.mark.parametrize("attempts, seconds", [
    (1, 2), (2, 4), (3, 8), (4, 16), (5, 32), (6, 64), (11, 2048), (12, 3600), (40, 3600),
])
def test_backoff_doubles_up_to_an_hour(attempts, seconds):
    assert NO_JITTER.delay(attempts) == seconds


def test_a_one_minute_outage_heals_within_about_a_minute():
    # Five failures over the outage; the sixth attempt comes at most ~64 s after it ends.
    waited = sum(NO_JITTER.delay(n) for n in range(1, 6))
    assert waited == 62


@pytest.mark.parametrize("attempts", [1, 3, 8, 20])
def test_jitter_stays_within_twenty_percent(attempts):
    rng = random.Random(7)
    base = NO_JITTER.delay(attempts)
    delays = [RetryPolicy().delay(attempts, rng) for _ in range(200)]
    assert all(0.8 * base <= d <= 1.2 * base for d in delays)
    assert len(set(delays)) > 100  # actually spread


def test_asked_delay_wins():
    due = NO_JITTER.next_due(1, T0, T0, asked=120)
    assert due == T0 + timedelta(seconds=120)


def test_past_the_horizon_there_is_no_next_time():
    policy = RetryPolicy(jitter=0, horizon=3600)
    assert policy.next_due(3, T0 + timedelta(seconds=3500), T0) == T0 + timedelta(seconds=3508)
    assert policy.next_due(12, T0 + timedelta(seconds=3500), T0) is None
    assert policy.next_due(3, T0 + timedelta(seconds=3500), T0, asked=50) == \
        T0 + timedelta(seconds=3550)
    assert policy.next_due(3, T0 + timedelta(seconds=3500), T0, asked=200) is None


def test_about_eighty_attempts_over_three_days():
    policy = RetryPolicy(jitter=0)
    now, attempts = T0, 0
    while True:
        attempts += 1
        due = policy.next_due(attempts, now, T0)
        if due is None:
            break
        now = due
    assert 75 < attempts < 85
    assert now - T0 > timedelta(days=2, hours=22)


@pytest.mark.parametrize("status, retried", [
    (408, True), (425, True), (429, True), (500, True), (503, True), (599, True),
    (400, False), (401, False), (404, False), (409, False), (422, False), (301, False),
])
def test_only_timeouts_rate_limits_and_server_errors_are_worth_retrying(status, retried):
    assert worth_retrying(status) is retried
