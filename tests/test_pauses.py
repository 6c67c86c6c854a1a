"""Paused adapters: stored, skipped by workers without attempts, resumed from the CLI or console."""

from datetime import timedelta

import pytest
from freezegun import freeze_time

from receiver import cli
from receiver.store import attempts, deliveries, pauses
from receiver.store.pauses import PausedSet
from receiver.store.transactions import transaction

from .builders import payload
from .crm import Answer
from .delivering import delivering_to, drain
from .stored import only_delivery

T0 = "2025-03-04T12:00:00Z"


@pytest.fixture
def environment(environment, crm):
    return delivering_to(environment, crm, timeout="1", lease="5")


def test_a_paused_adapter_is_neither_attempted_nor_counted_until_resumed(
        runner, post, worker, crm, engine):
    assert runner.invoke(cli.main, ["adapters", "pause", "http"]).output == "http paused\n"
    worker.claims.paused.every = 0  # read the paused set on every claim
    post(payload("e-message-agent"))
    assert drain(worker) == 0
    row = only_delivery(engine)
    assert (row.state, row.attempts, crm.received) == ("pending", 0, [])
    assert runner.invoke(cli.main, ["adapters", "resume", "http"]).output == "http resumed\n"
    assert drain(worker) == 1
    assert only_delivery(engine).state == "delivered" and len(crm.received) == 1


def test_pausing_twice_and_resuming_what_is_not_paused_say_so(runner):
    runner.invoke(cli.main, ["adapters", "pause", "http"])
    assert runner.invoke(cli.main, ["adapters", "pause", "http"]).output == "http was paused already\n"
    runner.invoke(cli.main, ["adapters", "resume", "http"])
    assert runner.invoke(cli.main, ["adapters", "resume", "http"]).output == "http was not paused\n"


def test_pausing_an_adapter_no_package_provides_is_refused(runner):
    result = runner.invoke(cli.main, ["adapters", "pause", "nosuch"])
    assert result.exit_code != 0 and "nosuch" in result.output


def test_a_pause_is_stored_so_a_new_worker_sees_it(runner, post, app, engine, crm):
    from receiver.state import current
    from receiver.worker import build_worker

    runner.invoke(cli.main, ["adapters", "pause", "http"])
    post(payload("e-message-agent"))
    assert drain(build_worker(current(app).settings, engine)) == 0
    assert crm.received == []


def test_resuming_gives_waiting_deliveries_a_fresh_retry_horizon(runner, post, engine):
    with freeze_time(T0) as clock:
        post(payload("e-message-agent"))
        runner.invoke(cli.main, ["adapters", "pause", "http"])
        clock.tick(timedelta(days=5))
        runner.invoke(cli.main, ["adapters", "resume", "http"])
        (claim,) = deliveries.claim_due(engine, ["http"], "w", clock.time_to_freeze.replace(
            tzinfo=__import__("datetime").timezone.utc), 5)
        assert claim.retries_since == claim.due_at + timedelta(days=5)


def test_the_paused_set_is_read_again_only_every_few_seconds(engine, app):
    now = [0.0]
    paused = PausedSet(engine, every=5.0, clock=lambda: now[0])
    assert paused.current() == frozenset()
    with transaction(engine) as conn:
        pauses.pause(conn, "http", __import__("datetime").datetime.now(
            __import__("datetime").timezone.utc))
    now[0] = 4.9
    assert paused.current() == frozenset()
    now[0] = 5.0
    assert paused.current() == {"http"}


def test_each_attempt_is_kept_with_its_outcome_and_error(post, worker, crm, engine):
    with freeze_time(T0) as clock:
        post(payload("e-message-agent"))
        crm.answer(Answer(500))
        assert drain(worker) == 1
        clock.tick(timedelta(seconds=5))
        assert drain(worker) == 1
    row = only_delivery(engine)
    with transaction(engine) as conn:
        history = attempts.of_deliveries(conn, [row.id])[row.id]
    assert [(a.attempt, a.outcome) for a in history] == [(1, "retry"), (2, "delivered")]
    assert "HTTP 500" in history[0].error and history[1].error is None
    assert history[1].attempted_at - history[0].attempted_at == timedelta(seconds=5)
