"""`receiver send-test` acts as Rocket.Chat: against the real app, and with each version's retries."""

import json
import subprocess
import sys
import threading

import pytest
from werkzeug.serving import make_server

from receiver import cli
from receiver.sender import POLICIES, conversation, deliver

from .builders import TOKEN
from .crm import Answer
from .servers import free_port
from .stored import count


@pytest.fixture
def served(app):
    """The app on a real local HTTP port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/webhooks/rocketchat"
    server.shutdown()


def test_send_test_sample_is_accepted(served, runner, engine):
    result = runner.invoke(cli.main, ["send-test", served, "--token", TOKEN])
    assert result.exit_code == 0, result.output
    # One line per answer and nothing between them, as the README shows it.
    lines = result.output.splitlines()
    assert lines[0].endswith(f"1 body to {served}")
    assert lines[1].startswith("ok   Send Test sample: 200")
    assert lines[2].startswith("1 of 1 accepted")
    assert len(lines) == 3
    assert count(engine, "events") == 1


def test_a_whole_conversation_lands_in_order(served, runner, engine):
    result = runner.invoke(cli.main, ["send-test", served, "--token", TOKEN, "--conversation", "2"])
    assert result.exit_code == 0, result.output
    assert "16 of 16 accepted" in result.output
    assert count(engine, "events") == 16
    listing = json.loads(runner.invoke(cli.main, ["events", "list", "--limit", "8", "--json"]).output)
    kinds = [event["kind"] for event in reversed(listing)]
    assert kinds == ["chat.started", "chat.queued", "message.visitor", "chat.taken",
                     "message.agent", "chat.forwarded", "message.visitor", "chat.closed"]


def test_wrong_token_is_reported_as_a_failure(served, runner):
    result = runner.invoke(cli.main, ["send-test", served, "--token", "nope", "--retry-delay", "0"])
    assert result.exit_code == 1
    assert "FAIL Send Test sample: 401" in result.output


def test_conversations_have_fresh_ids():
    first, second = conversation(), conversation()
    assert first[0]["_id"] != second[0]["_id"]
    assert first[2]["messages"][0]["_id"] != second[2]["messages"][0]["_id"]
    assert {body["_id"] for body in first} == {first[0]["_id"]}


@pytest.mark.parametrize("version, script, statuses", [
    ("current", [503, 429, 200], [503, 429, 200]),
    ("current", [400], [400]),                  # 4xx: dropped, not retried
    ("current", [201], [201]),                  # 201 is a failure, and not retried
    ("current", [500] * 6, [500] * 5),          # five attempts in all
    ("6.4.3", [201, 204, 200], [201, 204, 200]),  # every non-200 retried
    ("6.4.3", [400] * 12, [400] * 10),
    ("6.2", [500], [500]),                      # HTTP errors were not retried
    ("5.x", [201], [201]),                      # anything below 400 was success
    ("5.x", [404, 200], [404, 200]),
])
def test_each_versions_retry_policy(crm, version, script, statuses):
    import requests
    crm.answer(*[Answer(status) for status in script])
    attempts = deliver(requests.Session(), crm.url, TOKEN, {"type": "LivechatSession"},
                       POLICIES[version], timeout=2, retry_delay=0, sleep=lambda _: None)
    assert [a.status for a in attempts] == statuses


def test_no_answer_is_retried(crm):
    import requests
    crm.answer(Answer(200, delay=1.0), Answer(200))
    attempts = deliver(requests.Session(), crm.url, TOKEN, {"type": "Message"},
                       POLICIES["current"], timeout=0.3, retry_delay=0, sleep=lambda _: None)
    assert [a.status for a in attempts] == [None, 200]


def test_without_a_token_it_says_how_to_give_one(runner, monkeypatch):
    monkeypatch.delenv("ROCKETCHAT_LIVECHAT_TOKEN", raising=False)
    result = runner.invoke(cli.main, ["send-test", "http://127.0.0.1:9/webhooks/rocketchat"])
    assert result.exit_code == 2
    assert "--token" in result.output and "ROCKETCHAT_LIVECHAT_TOKEN" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("url, reason", [
    (f"http://127.0.0.1:{free_port()}/webhooks/rocketchat", "connection refused"),
    ("http://receiver.invalid/webhooks/rocketchat", "the host name does not resolve"),
])
def test_an_unreachable_url_fails_at_once_saying_why(runner, url, reason):
    """Rocket.Chat would try five times, 20 s apart; nothing would change in between."""
    result = runner.invoke(cli.main, ["send-test", url, "--token", TOKEN, "--sample",
                                      "--conversation", "1"])
    assert result.exit_code == 1
    assert f"FAIL Send Test sample: no answer ({reason})" in result.output
    assert result.output.count("no answer") == 1  # neither retried nor the other bodies sent
    assert "0 of 9 accepted" in result.output


def test_a_timeout_is_named_and_retried(crm):
    import requests
    crm.answer(Answer(200, delay=1.0), Answer(200))
    attempts = deliver(requests.Session(), crm.url, TOKEN, {"type": "Message"},
                       POLICIES["current"], timeout=0.3, retry_delay=0, sleep=lambda _: None)
    assert [a.body for a in attempts][0] == "timed out after 0.3 s"


def test_the_shipped_commands_do_not_import_the_test_helpers():
    code = "import sys, receiver.cli, receiver.sender; print('receiver.testing' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"
