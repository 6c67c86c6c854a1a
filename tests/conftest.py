"""Fixtures: an app per test on a fresh SQLite file and, when a server answers, on PostgreSQL.

Helpers live in their own modules (builders, stored, delivering, postgres, locks); import
them from there, never from this file.
"""

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from receiver import create_app
from receiver.state import current
from receiver.store import schema

from .builders import OLD_TOKEN, TOKEN
from .crm import FakeCrm
from .postgres import throwaway_postgres_database, truncate


@pytest.fixture(scope="session")
def postgres_url():
    """One migrated throwaway database for the whole session, truncated between tests."""
    with throwaway_postgres_database() as url:
        engine = create_engine(url)
        schema.upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory) -> Path:
    """One migrated SQLite database for the session, copied by `database_url` and `store_url`."""
    path = tmp_path_factory.mktemp("store") / "template.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    schema.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """An empty, migrated database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "receiver.sqlite3"
        shutil.copy(request.getfixturevalue("migrated_sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    truncate(url)
    return url


@pytest.fixture
def store_url(migrated_sqlite_template, tmp_path) -> str:
    """An empty, migrated SQLite database of the test's own, for adapters that keep CRM links."""
    path = tmp_path / "adapter-store.sqlite3"
    shutil.copy(migrated_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def environment(database_url, tmp_path):
    """The variables an operator would set, as a mapping tests may change before `app`."""
    return {
        "ROCKETCHAT_LIVECHAT_TOKEN": f"{TOKEN},{OLD_TOKEN}",
        "DATABASE_URL": database_url,
        "RECEIVER_ADAPTERS": "log",
    }


@pytest.fixture
def app(environment):
    """The receiver configured by `environment`, its store migrated."""
    app = create_app(environment)
    schema.upgrade(current(app).engine)
    yield app
    current(app).engine.dispose()


@pytest.fixture
def engine(app):
    """The app's store."""
    return current(app).engine


@pytest.fixture
def client(app):
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A runner for the app's CLI commands."""
    return app.test_cli_runner()


@pytest.fixture
def post(client):
    """POST a body (dict, str or bytes) to the webhook with the current token."""

    def send(body, token=TOKEN, headers=None):
        data = json.dumps(body) if isinstance(body, dict) else body
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            all_headers["X-RocketChat-Livechat-Token"] = token
        return client.post("/webhooks/rocketchat", data=data, headers=all_headers)

    return send


@pytest.fixture
def crm():
    """A local HTTP server standing in for the CRM."""
    with FakeCrm() as server:
        yield server


@pytest.fixture
def worker(app, engine):
    """A delivery worker for the app's configured adapters."""
    from receiver.worker import build_worker

    return build_worker(current(app).settings, engine)
