"""A database whose schema this release cannot use: /readyz says so, web and worker log the fix once."""

import logging

import pytest

from receiver import create_app
from receiver.adapters.log import LogAdapter
from receiver.state import current
from receiver.store.schema import head_revision, upgrade
from receiver.store.transactions import StoreUnavailable
from receiver.store.upgrade_needed import UpgradeNotice, looks_like_missing_schema, schema_problem
from receiver.worker import Worker

from .builders import TOKEN, payload
from .postgres import throwaway_postgres_database

METRICS_TOKEN = "scrape-me"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request, tmp_path):
    """A database nobody has run `receiver db upgrade` on."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    with throwaway_postgres_database() as url:
        yield url


@pytest.fixture
def app(empty_database):
    app = create_app({"ROCKETCHAT_LIVECHAT_TOKEN": TOKEN, "DATABASE_URL": empty_database,
                      "RECEIVER_ADAPTERS": "log", "RECEIVER_METRICS_TOKEN": METRICS_TOKEN})
    yield app
    current(app).engine.dispose()


def upgrade_lines(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if "receiver db upgrade" in record.getMessage()]


def test_readyz_is_not_ready_and_says_how_to_fix_it(app):
    client = app.test_client()
    anonymous = client.get("/readyz")
    assert anonymous.status_code == 503 and anonymous.get_json()["checks"]["store"] == "failed"
    detailed = client.get("/readyz", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert detailed.get_json()["checks"]["store"] == (
        f"failed: the database has no schema; this release needs {head_revision()}: "
        "run `receiver db upgrade`")
    upgrade(current(app).engine)
    assert client.get("/readyz").status_code == 200


def test_webhooks_get_503_and_the_fix_is_logged_once(app, caplog):
    caplog.set_level(logging.INFO, logger="receiver")
    client = app.test_client()
    for _ in range(3):
        answer = client.post("/webhooks/rocketchat", json=payload("e-message-visitor"),
                             headers={"X-RocketChat-Livechat-Token": TOKEN})
        assert answer.status_code == 503
    assert len(upgrade_lines(caplog)) == 1


class Steps:
    """A stop flag that lets the worker loop run `count` times, without waiting between."""

    def __init__(self, count: int):
        self.left = count

    def is_set(self) -> bool:
        self.left -= 1
        return self.left < 0

    def wait(self, seconds) -> None:
        pass


def test_the_worker_logs_the_fix_once_not_every_poll(app, caplog):
    caplog.set_level(logging.INFO, logger="receiver")
    adapters = {"log": LogAdapter(current(app).settings)}
    Worker(current(app).engine, adapters, lease_seconds=5).run(Steps(5))
    assert len(upgrade_lines(caplog)) == 1
    assert not [r for r in caplog.records if "worker step failed" in r.getMessage()]


@pytest.mark.parametrize("message, missing", [
    ('relation "events" does not exist', True),
    ("no such table: events", True),
    ("no such column: events.resends", True),
    ('connection to server at "127.0.0.1", port 5432 failed: Connection refused', False),
    ("database is locked", False),
    ("canceling statement due to statement timeout", False),
])
def test_only_a_missing_table_or_column_is_worth_a_schema_check(message, missing, monkeypatch):
    """A database that is down must not pay a second wait for the check."""
    wrapped = StoreUnavailable("the store failed")
    wrapped.__cause__ = RuntimeError(message)
    assert looks_like_missing_schema(wrapped) is missing
    checked = []
    monkeypatch.setattr("receiver.store.upgrade_needed.schema_problem",
                        lambda engine: checked.append(engine))
    UpgradeNotice().explain("engine", wrapped)
    assert checked == (["engine"] if missing else [])


def test_a_database_ahead_of_this_release_is_not_told_to_upgrade(app, monkeypatch):
    monkeypatch.setattr("receiver.store.upgrade_needed.current_revision", lambda engine: "0999")
    problem = schema_problem(current(app).engine)
    assert "newer than this release" in problem and "db upgrade" not in problem
