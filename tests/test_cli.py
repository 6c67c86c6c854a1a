"""The `receiver` command over the store: list, show, replay, discard."""

import json

from receiver import cli
from receiver.store import schema

from .builders import payload
from .stored import count


def test_events_list_and_show(post, runner):
    event_id = post(payload("e-livechat-session-close")).get_json()["id"]
    post(payload("webhook-test-sample"))
    listing = runner.invoke(cli.main, ["events", "list"])
    assert listing.exit_code == 0, listing.output
    header, *lines = listing.output.splitlines()
    assert header.split() == ["EVENT", "RECEIVED", "KIND", "CONVERSATION"]
    assert len(lines) == 2
    assert "(test)" in lines[0] and event_id in lines[1] and "chat.closed" in lines[1]
    assert "s ago)" in lines[1]
    listed = json.loads(runner.invoke(cli.main, ["events", "list", "--json"]).output)
    assert [(event["id"], event["test"]) for event in listed][1] == (event_id, False)
    shown = runner.invoke(cli.main, ["events", "show", event_id])
    assert json.loads(shown.output)["conversation"]["id"] == "r7XkPq2mZ4nLb8sT3"
    raw = runner.invoke(cli.main, ["events", "show", event_id, "--raw"])
    assert json.loads(raw.output) == payload("e-livechat-session-close")


def test_events_list_filters(post, runner):
    post(payload("e-livechat-session-close"))
    post(payload("e-offline-message"))
    listing = runner.invoke(cli.main, ["events", "list", "--kind", "offline.message", "--json"])
    assert [event["kind"] for event in json.loads(listing.output)] == ["offline.message"]


def test_a_filter_with_a_typo_is_refused_naming_the_choices(runner):
    result = runner.invoke(cli.main, ["events", "list", "--kind", "chat.close"])
    assert result.exit_code == 2 and "'chat.closed'" in result.output
    result = runner.invoke(cli.main, ["deliveries", "list", "--adapter", "htp"])
    assert result.exit_code == 2 and "no adapter 'htp' is installed" in result.output
    assert "http" in result.output


def test_show_unknown_event_fails_clearly(runner):
    result = runner.invoke(cli.main, ["events", "show", "evt_nope"])
    assert result.exit_code == 1 and "no event evt_nope" in result.output


def test_quarantine_list_show_and_replay_after_a_fix(post, runner, engine, monkeypatch):
    body = payload("e-message-visitor")
    body["messages"][0]["ts"] = 1741083521007  # epoch millis: refused by this version
    held_id = post(body).get_json()["quarantine_id"]
    listing = runner.invoke(cli.main, ["quarantine", "list"])
    assert f"#{held_id}" in listing.output and "messages" in listing.output
    shown = runner.invoke(cli.main, ["quarantine", "show", str(held_id)])
    assert "Not a valid datetime" in shown.output

    still_bad = runner.invoke(cli.main, ["quarantine", "replay", str(held_id)])
    assert still_bad.exit_code == 1 and "still invalid" in still_bad.output
    assert count(engine, "events") == 0

    # "After a fix": this version learns to read the body, and the replay accepts it.
    from receiver import intake
    real_parse = intake.parse_event

    def tolerant(raw_body):
        raw_body["messages"][0]["ts"] = "2025-03-04T10:18:41.007Z"
        return real_parse(raw_body)

    monkeypatch.setattr(intake, "parse_event", tolerant)
    replayed = runner.invoke(cli.main, ["quarantine", "replay", "--all"])
    assert replayed.exit_code == 0, replayed.output
    assert "accepted as evt_" in replayed.output
    assert count(engine, "events") == 1 and count(engine, "deliveries") == 1
    assert runner.invoke(cli.main, ["quarantine", "list"]).output == "(none)\n"
    accepted = runner.invoke(cli.main, ["quarantine", "list", "--state", "accepted"])
    assert f"#{held_id}" in accepted.output


def test_quarantine_discard_keeps_the_row(post, runner, engine):
    held_id = post({"type": "Message", "_id": "r"}).get_json()["quarantine_id"]
    result = runner.invoke(cli.main, ["quarantine", "discard", str(held_id)])
    assert result.exit_code == 0
    assert count(engine, "quarantine") == 1
    assert "discarded" in runner.invoke(cli.main, ["quarantine", "list", "--state", "all"]).output


def test_replay_needs_ids(runner):
    result = runner.invoke(cli.main, ["quarantine", "replay"])
    assert result.exit_code == 2


def test_db_upgrade_is_idempotent(runner):
    result = runner.invoke(cli.main, ["db", "upgrade"])
    assert result.exit_code == 0 and f"revision {schema.head_revision()}" in result.output


def test_an_event_holding_a_lone_surrogate_is_shown_escaped(post, runner):
    body = payload("e-message-visitor")
    body["messages"][0]["msg"] = "broken \udc80 emoji"
    event_id = post(json.dumps(body)).get_json()["id"]
    shown = runner.invoke(cli.main, ["events", "show", event_id])
    assert shown.exit_code == 0, shown.output
    assert "\\udc80" in shown.output
