"""The circuit breaker: which outcomes count, when it opens, how long it waits between probes,
and a worker pausing a failing adapter, probing it, and resuming it when the CRM is back."""

import logging
from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time
from sqlalchemy import create_engine, delete

from receiver import counters
from receiver.adapters.base import Delivered, Failed, RetryLater
from receiver.breaker import DOWN, UNTRIED, UP, BreakerRule, batch_verdict, verdict
from receiver.store import breakers, pauses
from receiver.store.tables import adapter_breakers
from receiver.store.transactions import reading

from .builders import rooms
from .delivering import delivering_to, drain
from .crm import Answer

T0 = "2025-03-04T12:00:00Z"


@pytest.mark.parametrize("outcome, seen", [
    (Delivered(), UP),
    (RetryLater("HTTP 503: busy"), DOWN),
    (RetryLater("HubSpot HTTP 502: bad gateway"), DOWN),
    (RetryLater("cannot reach HubSpot: ConnectionError"), DOWN),
    (RetryLater("HubSpot did not answer POST /crm in time"), DOWN),
    (RetryLater("no answer from http://crm/events within 5 s"), DOWN),
    (Failed("HubSpot HTTP 401 (check RECEIVER_HUBSPOT_TOKEN): expired"), DOWN),
    (Failed("Zoho CRM HTTP 403 (check RECEIVER_ZOHO_REFRESH_TOKEN): no scope"), DOWN),
    (Failed("Zoho accounts refused RECEIVER_ZOHO_REFRESH_TOKEN (invalid_code): revoked"), DOWN),
    (RetryLater("HubSpot HTTP 429: ten_secondly_rolling"), UP),     # it answered
    (Failed("HubSpot HTTP 400: VALIDATION_ERROR"), UP),              # the data, not the CRM
    (Failed("HTTP 500: kept failing (gave up after 9 attempts)"), UP),  # only retries count
    (RetryLater("waiting for the rate budget of hubspot (100/10 s): next call in 2.0 s"),
     UNTRIED),
])
def test_which_outcomes_say_the_crm_is_down(outcome, seen):
    assert verdict(outcome) == seen


DOWN_504 = RetryLater("HubSpot HTTP 504: no answer")
WAITED = RetryLater("waiting for the rate budget of hubspot (100/10 s): next call in 2.0 s")


@pytest.mark.parametrize("outcomes, seen", [
    ([DOWN_504], DOWN),
    ([DOWN_504] * 10, DOWN),                      # one call that failed, however many it carried
    ([DOWN_504, Delivered(), DOWN_504], UP),      # the CRM answered for one of them
    ([DOWN_504, Failed("HubSpot HTTP 400: VALIDATION_ERROR")], UP),
    ([WAITED, WAITED], UNTRIED),
    ([WAITED, DOWN_504], DOWN),
])
def test_an_attempt_is_judged_once_over_the_deliveries_it_carried(outcomes, seen):
    assert batch_verdict(outcomes) == seen


@pytest.mark.parametrize("before, seen, after", [
    (0, DOWN, 1), (4, DOWN, 5), (4, UP, 0), (4, UNTRIED, 4),
])
def test_failures_count_in_a_row(before, seen, after):
    assert BreakerRule().failures(before, seen) == after


@pytest.mark.parametrize("failed_probes, seconds", [
    (0, 30), (1, 60), (2, 120), (3, 240), (4, 480), (5, 600), (9, 600),
])
def test_probes_wait_twice_as_long_after_each_failure_up_to_ten_minutes(failed_probes, seconds):
    assert BreakerRule().probe_after(failed_probes) == seconds


def test_it_opens_at_the_threshold():
    rule = BreakerRule(threshold=5)
    assert [rule.opens(n) for n in (3, 4, 5, 6)] == [False, False, True, True]


@pytest.fixture
def environment(environment, crm):
    with create_engine(environment["DATABASE_URL"]).begin() as conn:
        conn.execute(delete(adapter_breakers))  # what an earlier test on PostgreSQL left
    return delivering_to(environment, crm, timeout="1", lease="5")


def opened(engine) -> dict:
    with reading(engine) as conn:
        return breakers.opened(conn)


def paused(engine) -> dict:
    with reading(engine) as conn:
        return pauses.paused(conn)


def test_a_failing_adapter_is_paused_probed_and_resumed(post, worker, crm, engine, caplog):
    worker.circuits.rule = BreakerRule(threshold=3)
    worker.circuits.every = 0  # look for due probes on every step
    worker.claims.paused.every = 0
    caplog.set_level(logging.INFO, "receiver.circuits")
    crm.default = Answer(503)
    before = counters.BREAKERS_OPENED.labels("http")._value.get()
    with freeze_time(T0) as clock:
        rooms(post, 6)
        assert drain(worker) == 3  # the third failure in a row opens it
        assert counters.BREAKERS_OPENED.labels("http")._value.get() == before + 1
        assert set(opened(engine)) == {"http"} and "http" in paused(engine)
        assert len(crm.received) == 3  # the other three wait, without an attempt
        clock.tick(timedelta(seconds=29))
        assert drain(worker) == 0
        clock.tick(timedelta(seconds=1))
        assert drain(worker) == 1 and len(crm.received) == 4  # one probe, which fails
        assert opened(engine)["http"].failed_probes == 1
        clock.tick(timedelta(seconds=59))
        assert drain(worker) == 0  # the next probe waits twice as long
        crm.default = Answer(200)
        clock.tick(timedelta(seconds=1))
        assert worker.step() and opened(engine) == {}  # the probe gets through: closed
        assert "http" not in paused(engine)
        assert drain(worker) == 5  # and the others go, their backoff long past
    messages = [record.getMessage() for record in caplog.records
                if record.name == "receiver.circuits"]
    assert [m.split(":")[0].rstrip("0123456789") for m in messages] == [
        "breaker of http opened after 3 failed attempts in a row; it is paused and probed "
        "in 30 s", "breaker of http probes with delivery ", "breaker of http stays open",
        "breaker of http probes with delivery ", "breaker of http closed"]


def test_an_operator_pause_is_not_the_breakers(post, worker, crm, engine):
    worker.circuits.rule = BreakerRule(threshold=1)
    crm.default = Answer(503)
    with freeze_time(T0) as clock:
        rooms(post, 1)
        drain(worker)
        now = datetime.now(timezone.utc)
        with worker.engine.begin() as conn:
            pauses.resume(conn, "http", now)  # an operator resumes it, and pauses it again
            pauses.pause(conn, "http", now + timedelta(seconds=1))
        clock.tick(timedelta(minutes=5))
        worker.circuits.every = worker.claims.paused.every = 0
        assert opened(engine) == {} and drain(worker) == 0  # no probe: the pause is theirs


def test_the_cli_and_metrics_tell_the_breakers_pause_from_an_operators(runner, engine):
    from receiver import cli
    from receiver.backlog import read_backlog

    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        breakers.open_breaker(conn, "http", now, 30.0, "HTTP 503: busy")
        pauses.pause(conn, "jsonl", now)
    listed = runner.invoke(cli.main, ["adapters", "list"]).output
    assert [line.split()[-1] for line in listed.splitlines() if line.startswith(("http", "jsonl"))] \
        == ["(failing)", "operator"]
    [gauge] = [family for family in read_backlog(engine, ("http", "jsonl"))
               if family.name == "receiver_adapter_breaker_open"]
    assert {sample.labels["adapter"]: sample.value for sample in gauge.samples} == \
        {"http": 1, "jsonl": 0}
