"""`receiver prune`: finished events go, anything undelivered stays, even under live traffic."""

import json
import threading

import pytest
from freezegun import freeze_time

from receiver import cli

from .builders import payload
from .crm import Answer
from .delivering import delivering_to, drain
from .stored import count, delivery_states


@pytest.fixture
def environment(environment, crm):
    return delivering_to(environment, crm, timeout="1", lease="5")


def message(n: int) -> dict:
    body = payload("e-message-visitor")
    body["messages"][0]["_id"] = f"retention{n}"
    return body


def test_prune_removes_finished_events_and_keeps_the_rest(post, runner, engine, worker, crm):
    with freeze_time("2025-01-01T00:00:00Z"):
        delivered = post(message(1)).get_json()["id"]
        dead = post(payload("e-offline-message")).get_json()["id"]
        unknown = post({"type": "LivechatFuture", "_id": "r"}).get_json()["id"]
        crm.answer(Answer(200), Answer(400))
        drain(worker)
        pending = post(message(2)).get_json()["id"]
        crm.default = Answer(503)
        drain(worker)
        held = post({"type": "Message", "_id": "r"}).get_json()["quarantine_id"]
        discarded = post({"type": "Message", "_id": "s"}).get_json()["quarantine_id"]
        runner.invoke(cli.main, ["quarantine", "discard", str(discarded)])
    assert delivery_states(engine) == {delivered: "delivered", dead: "dead", pending: "pending"}

    with freeze_time("2025-02-15T00:00:00Z"):
        result = runner.invoke(cli.main, ["prune", "--older-than", "30d", "--quarantine"])
        assert result.exit_code == 0, result.output
        assert "pruned 2 event(s)" in result.output  # the delivered one and the unknown one
        assert delivery_states(engine) == {dead: "dead", pending: "pending"}
        shown = runner.invoke(cli.main, ["events", "show", unknown])
        assert "no event" in shown.output
        listed = runner.invoke(cli.main, ["quarantine", "list", "--state", "all"]).output
        assert f"#{held}" in listed and f"#{discarded}" not in listed

        result = runner.invoke(cli.main, ["prune", "--older-than", "30d", "--include-dead"])
        assert "pruned 1 event(s)" in result.output
        assert delivery_states(engine) == {pending: "pending"}


def test_recent_events_are_not_pruned(post, runner, engine, worker, crm):
    with freeze_time("2025-01-01T00:00:00Z"):
        post(message(1))
        drain(worker)
    with freeze_time("2025-01-20T00:00:00Z"):
        assert "pruned 0" in runner.invoke(cli.main, ["prune", "--older-than", "30d"]).output
    assert count(engine, "events") == 1


def test_redact_raw_bodies_of_delivered_events(post, runner, engine, worker, crm):
    with freeze_time("2025-01-01T00:00:00Z"):
        delivered = post(message(1)).get_json()["id"]
        drain(worker)
        crm.default = Answer(503)
        pending = post(message(2)).get_json()["id"]
        drain(worker)
    with freeze_time("2025-01-09T00:00:00Z"):
        result = runner.invoke(cli.main, ["prune", "--redact-raw-after", "7d"])
        assert "redacted the raw body of 1 event(s)" in result.output
    redacted = runner.invoke(cli.main, ["events", "show", delivered, "--raw"])
    assert "was redacted" in redacted.output
    assert json.loads(runner.invoke(cli.main, ["events", "show", delivered]).output)["id"] == delivered
    assert json.loads(runner.invoke(cli.main, ["events", "show", pending, "--raw"]).output)


def test_bad_duration_is_a_usage_error(runner):
    result = runner.invoke(cli.main, ["prune", "--older-than", "soon"])
    assert result.exit_code == 2 and "not a duration" in result.output


def test_prune_under_concurrent_inserts_loses_nothing_undelivered(app, engine, worker, crm, post):
    for n in range(30):
        post(message(n))
    drain(worker)  # 30 delivered, all prunable
    crm.default = Answer(503)
    stop, posted = threading.Event(), []

    def keep_posting():
        client = app.test_client()
        for n in range(100, 300):
            response = client.post("/webhooks/rocketchat", data=json.dumps(message(n)),
                                   headers={"X-RocketChat-Livechat-Token": "current-token"})
            assert response.status_code == 200
            posted.append(response.get_json()["id"])
        stop.set()

    runner = app.test_cli_runner()
    poster = threading.Thread(target=keep_posting)
    poster.start()
    while not stop.is_set():
        assert runner.invoke(cli.main, ["prune", "--older-than", "0s"]).exit_code == 0
    poster.join()
    runner.invoke(cli.main, ["prune", "--older-than", "0s"])
    remaining = delivery_states(engine)
    assert set(posted) <= set(remaining)  # every undelivered event is still there
    assert set(remaining.values()) == {"pending"}


@pytest.fixture
def finished_and_redactable(post, worker, crm):
    """Two delivered events and a discarded quarantine row, all received on 2025-01-01."""
    with freeze_time("2025-01-01T00:00:00Z"):
        post(message(1)), post(message(2))
        post({"type": "Message", "_id": "s"})
        drain(worker)


def test_a_dry_run_says_what_would_go_and_changes_nothing(finished_and_redactable, runner,
                                                          engine):
    with freeze_time("2025-02-15T00:00:00Z"):
        result = runner.invoke(cli.main, ["prune", "--dry-run", "--quarantine", "--held-too",
                                           "--redact-raw-after", "7d"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "would prune 2 event(s) received before 2025-01-16 00:00 UTC",
        "would forget the CRM record ids of 0 conversation link(s) not updated since "
        "2025-01-16 00:00 UTC",
        "would forget the CRM note ids of 0 conversation(s) and offline message(s) with no "
        "event left, not written since 2025-01-16 00:00 UTC",
        "would forget the CRM records of 0 visitor identifier(s) not used since "
        "2025-01-16 00:00 UTC",
        "would delete 0 closed circuit breaker(s) opened before 2025-01-16 00:00 UTC",
        "would delete 1 quarantine row(s)",
        "would redact the raw body of 2 event(s)",
    ]
    assert count(engine, "events") == 2 and count(engine, "quarantine") == 1


@pytest.mark.parametrize("answer, events_left", [("n\n", 2), ("y\n", 0)])
def test_on_a_terminal_it_asks_first(finished_and_redactable, runner, engine, monkeypatch,
                                     answer, events_left):
    monkeypatch.setattr("receiver.cli.retention.on_a_terminal", lambda: True)
    with freeze_time("2025-02-15T00:00:00Z"):
        result = runner.invoke(cli.main, ["prune"], input=answer)
    assert "would prune 2 event(s)" in result.output and "prune these? [y/N]" in result.output
    assert count(engine, "events") == events_left


def test_yes_prunes_on_a_terminal_without_asking(finished_and_redactable, runner, engine,
                                                 monkeypatch):
    monkeypatch.setattr("receiver.cli.retention.on_a_terminal", lambda: True)
    with freeze_time("2025-02-15T00:00:00Z"):
        result = runner.invoke(cli.main, ["prune", "--yes"])
    assert result.exit_code == 0 and "prune these?" not in result.output
    assert "not updated since 2025-01-16 00:00 UTC" in result.output
    assert count(engine, "events") == 0
