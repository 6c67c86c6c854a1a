"""Reads (health, metrics, listings) take no SQLite write lock, so writers never hold them up."""

import pytest

from receiver import cli
from receiver.state import current

from .builders import payload
from .locks import StoreLock


@pytest.fixture
def database_url(tmp_path):
    """SQLite only: a PostgreSQL reader takes no lock a writer holds."""
    return f"sqlite:///{tmp_path / 'receiver.sqlite3'}"


@pytest.fixture
def environment(environment):
    environment.update(RECEIVER_STORE_TIMEOUT_SECONDS="1", RECEIVER_METRICS_TOKEN="scrape-me")
    return environment


LISTINGS = (["events", "list"], ["deliveries", "list"], ["deliveries", "summary"],
            ["quarantine", "list"])


def test_reads_answer_while_writers_hold_the_database(app, engine, client, runner, post):
    event_id = post(payload("e-message-visitor")).get_json()["id"]
    # A writer in this process holds the queue for the write lock, another the lock itself.
    with current(app).write_lock.held(), StoreLock(engine):
        assert client.get("/readyz").get_json() == {"status": "ok", "checks": {"store": "ok"}}
        scrape = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert "receiver_store_up 1.0" in scrape.get_data(as_text=True)
        for command in LISTINGS:
            result = runner.invoke(cli.main, command)
            assert result.exit_code == 0, (command, result.output)
        assert event_id in runner.invoke(cli.main, ["events", "show", event_id]).output

