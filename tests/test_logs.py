"""Log lines are JSON with ids, outcomes and durations, and never carry secrets or personal data."""

import json
import logging
import subprocess
import sys
import threading

import pytest

from receiver.logs import JsonFormatter
from receiver.worker import Worker

from .builders import OLD_TOKEN, TOKEN, payload
from .crm import SECRET, Answer
from .delivering import delivering_to, drain

PERSONAL = ["Maria Silva", "maria@example.com", "+5511999990000", "203.0.113.7",
            "123.456.789-00", "my order #1234", "Carlos Lima", "carlos@example.com"]


@pytest.fixture
def environment(environment, crm):
    return delivering_to(environment, crm, timeout="1", lease="5")


@pytest.fixture
def lines(caplog):
    caplog.set_level(logging.DEBUG, logger="receiver")
    formatter = JsonFormatter()
    return lambda: [json.loads(formatter.format(record)) for record in caplog.records]


def test_one_json_line_per_request_with_ids(post, lines):
    event_id = post(payload("e-livechat-session-close")).get_json()["id"]
    post(payload("e-livechat-session-close"), token="wrong")
    requests = [line for line in lines() if line["logger"] == "receiver.requests"]
    assert [line["status"] for line in requests] == [200, 401]
    assert [line["outcome"] for line in requests] == ["accepted", "unauthorized"]
    first = requests[0]
    assert first["event_id"] == event_id and first["conversation_id"] == "r7XkPq2mZ4nLb8sT3"
    assert first["type"] == "LivechatSession" and first["outcome"] == "accepted"
    assert first["duration_ms"] > 0 and first["time"].endswith("Z")


def test_one_json_line_per_delivery_attempt(post, worker, crm, lines):
    event_id = post(payload("e-message-agent")).get_json()["id"]
    crm.answer(Answer(503))
    drain(worker)
    attempts = [line for line in lines() if line["message"] == "delivery"]
    assert len(attempts) == 1
    assert attempts[0] | {"duration_ms": 0} == {
        **attempts[0], "event_id": event_id, "conversation_id": "r7XkPq2mZ4nLb8sT3",
        "adapter": "http", "outcome": "retry", "attempt": 1, "duration_ms": 0}
    assert attempts[0]["reason"] == "HTTP 503"


def test_no_secret_or_personal_data_is_logged(post, worker, crm, lines, caplog):
    for name in ("e-livechat-session-close", "e-offline-message", "e-lead-capture"):
        post(payload(name))
    post(payload("e-message-agent"), token=OLD_TOKEN)
    post({"type": "Message", "_id": "r", "visitor": {"name": "Maria Silva"}})
    crm.answer(Answer(422, body=b'{"error": "contact maria@example.com is invalid"}'))
    drain(worker)
    text = "\n".join(json.dumps(line) for line in lines())
    assert lines(), "expected log lines to inspect"
    for secret in (TOKEN, OLD_TOKEN, SECRET, SECRET.removeprefix("whsec_")):
        assert secret not in text
    for personal in PERSONAL:
        assert personal not in text


def test_refusals_say_why_and_where_the_body_is_kept(post, lines):
    post(payload("e-livechat-session-close"), token=None)
    post(payload("e-livechat-session-close"), token="wrong")
    held = post({"type": "Message", "_id": "r"}).get_json()["quarantine_id"]
    requests = [line for line in lines() if line["logger"] == "receiver.requests"]
    assert [(line["status"], line.get("reason")) for line in requests[:2]] == [
        (401, "no token"), (401, "wrong token")]
    assert requests[2]["status"] == 422 and requests[2]["quarantine_id"] == held


@pytest.mark.parametrize("answer, level", [(200, "info"), (503, "warning"), (400, "error")])
def test_a_delivery_is_logged_at_the_level_its_outcome_needs(post, worker, crm, lines, answer,
                                                             level):
    post(payload("e-message-agent"))
    crm.answer(Answer(answer))
    drain(worker)
    (attempt,) = [line for line in lines() if line["message"] == "delivery"]
    assert attempt["level"] == level


def test_a_worker_with_no_adapter_warns(engine, caplog):
    caplog.set_level(logging.INFO, logger="receiver")
    stop = threading.Event()
    stop.set()
    Worker(engine, {}, lease_seconds=5).run(stop)
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warned and "RECEIVER_ADAPTERS" in warned[0].getMessage()


@pytest.mark.parametrize("level, text_format, expected", [
    (" info ", "TEXT", ("INFO", "text")), ("warning", "json", ("WARNING", "json")),
    ("", "", ("INFO", "json")),
])
def test_log_settings_are_read_as_the_start_checked_them(monkeypatch, level, text_format,
                                                         expected):
    from receiver.logs import log_format, log_level

    monkeypatch.setenv("RECEIVER_LOG_LEVEL", level)
    monkeypatch.setenv("RECEIVER_LOG_FORMAT", text_format)
    assert (log_level(), log_format()) == expected


def test_the_worker_and_the_log_adapter_import_no_blueprint():
    """Logs and counters are leaves: what the worker runs loads none of the web app's views."""
    code = ("import sys, receiver.worker, receiver.adapters.log; "
            "print(sorted(name for name in sys.modules if name in "
            "('receiver.webhook', 'receiver.metrics', 'receiver.observe', 'receiver.health')))")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]"
