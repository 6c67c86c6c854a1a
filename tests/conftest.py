"""Fixtures: an app per test on a fresh SQLite file and, when a server answers, on PostgreSQL."""

import contextlib
import copy
import json
import os
import shutil
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from receiver import create_app
from receiver.config import normalize_database_url
from receiver.state import current
from receiver.store import deliveries, schema

from .crm import SECRET, FakeCrm

PAYLOADS = Path(__file__).parent.parent / "receiver" / "samples"
TOKEN = "current-token"
OLD_TOKEN = "previous-token"
POSTGRES_VARIABLE = "RECEIVER_TEST_POSTGRES_URL"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def payload(name: str) -> dict:
    """One of the example bodies, as a fresh dict."""
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def nested(depth: int):
    """Lists inside lists, `depth` of them."""
    node = []
    for _ in range(depth - 1):
        node = [node]
    return node


def close_with(**fields) -> dict:
    """The sample close, with top-level fields replaced as given."""
    return {**payload("e-livechat-session-close"), **fields}


def room(body: dict, room_id: str) -> dict:
    """`body` moved to the room `room_id`."""
    body["_id"] = room_id
    return body


def visitor_message(room_id: str, message_id: str) -> dict:
    """The sample visitor Message, as message `message_id` of room `room_id`."""
    body = room(payload("e-message-visitor"), room_id)
    body["messages"][0]["_id"] = message_id
    return body


def in_arrival_order(delivered: list[str], ids: list[str]) -> list[str]:
    """Those of `ids` found in `delivered`, in the order they were delivered."""
    wanted = set(ids)
    return [i for i in delivered if i in wanted]


def rooms(post, count: int) -> list[str]:
    """One Message in each of `count` rooms; their event ids, in arrival order."""
    return [post(room(payload("e-message-visitor"), f"room{n}")).get_json()["id"]
            for n in range(count)]


def sample_with(sample: str, **contact_changes) -> dict:
    """A shipped sample's normalized event, with `contact` fields replaced as given."""
    from receiver.testing import sample_events

    chosen = copy.deepcopy(sample_events()[sample])
    chosen["contact"].update(contact_changes)
    return chosen


def payload_names() -> list[str]:
    return sorted(path.stem for path in PAYLOADS.glob("*.json"))


def postgres_admin_url() -> str:
    return normalize_database_url(os.environ.get(POSTGRES_VARIABLE, DEFAULT_POSTGRES))


@contextlib.contextmanager
def throwaway_postgres_database():
    """A new, empty database on the PostgreSQL server, dropped afterwards; skips if none answers."""
    admin_url = postgres_admin_url()
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 3})
    name = f"receiver_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # any failure to reach the server means "no server here"
        admin.dispose()
        pytest.skip(f"no PostgreSQL server at {admin_url} ({type(error).__name__}); "
                    f"set {POSTGRES_VARIABLE}=postgresql://user@host:port/db to run these")
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def terminate_backends(url: str, pid: int | None = None) -> int:
    """Close PostgreSQL backend `pid`, or, without one, every other backend of `url`'s database.

    As a server restart or failover closes them; returns how many were closed.
    """
    which = "pid = :pid" if pid else "datname = current_database() AND pid <> pg_backend_pid()"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        closed = conn.execute(text(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000))"
            f" FROM pg_stat_activity WHERE {which}"), {"pid": pid}).scalar_one()
    admin.dispose()
    return closed


@pytest.fixture(scope="session")
def postgres_url():
    """One migrated throwaway database for the whole session, truncated between tests."""
    with throwaway_postgres_database() as url:
        engine = create_engine(url)
        schema.upgrade(engine)
        engine.dispose()
        yield url


def _truncate(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE events, deliveries, quarantine, crm_links, crm_identities,"
                          " paused_adapters RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """An empty, migrated database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "receiver.sqlite3"
        shutil.copy(request.getfixturevalue("migrated_sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    _truncate(url)
    return url


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
    app = create_app(environment)
    schema.upgrade(current(app).engine)
    yield app
    current(app).engine.dispose()


@pytest.fixture
def engine(app):
    return current(app).engine


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
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


def delivering_to(environment: dict, crm, *, timeout: str, lease: str) -> dict:
    """The environment with the `http` adapter pointed at the fake CRM."""
    environment.update(RECEIVER_ADAPTERS="http", RECEIVER_HTTP_URL=crm.url,
                       RECEIVER_HTTP_SECRET=SECRET, RECEIVER_HTTP_TIMEOUT=timeout,
                       RECEIVER_LEASE_SECONDS=lease)
    return environment


@pytest.fixture
def worker(app, engine):
    """A delivery worker for the app's configured adapters."""
    from receiver.worker import build_worker

    return build_worker(current(app).settings, engine)


def drain(worker) -> int:
    """Deliver everything due now; how many deliveries were attempted."""
    steps = 0
    while worker.step():
        steps += 1
    return steps


def count(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def delivery_states(engine) -> dict:
    """Each delivery's state, by its event's id."""
    with engine.connect() as conn:
        return {row.event_id: row.state
                for row in deliveries.list_deliveries(conn, limit=10_000)}


def only_delivery(engine):
    """The one delivery stored, for tests that post a single event."""
    with engine.connect() as conn:
        (row,) = deliveries.list_deliveries(conn)
    return row


def leased_deliveries(engine) -> list:
    """The deliveries some worker holds a claim on."""
    with engine.connect() as conn:
        return [row for row in deliveries.list_deliveries(conn, limit=10_000) if row.lease_owner]


class StoreLock:
    """Another connection holding `table` locked (on SQLite, the whole database) until released."""

    def __init__(self, engine, table: str = "events"):
        self.engine, self.table = engine, table
        self._locked, self._release = threading.Event(), threading.Event()
        self._holder = threading.Thread(target=self._hold)

    def _hold(self):
        with self.engine.connect() as conn:
            conn.begin()  # on SQLite, BEGIN IMMEDIATE: the database's write lock
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"LOCK TABLE {self.table} IN ACCESS EXCLUSIVE MODE"))
            self._locked.set()
            self._release.wait(30)
            conn.rollback()

    def hold(self) -> "StoreLock":
        self._holder.start()
        assert self._locked.wait(10)
        return self

    def __enter__(self):
        return self.hold()

    def release(self):
        self._release.set()
        self._holder.join()

    def __exit__(self, *exc_info):
        self.release()


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory) -> Path:
    """One migrated SQLite database for the session, copied by `store_url`."""
    path = tmp_path_factory.mktemp("store") / "template.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    schema.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def store_url(migrated_sqlite_template, tmp_path) -> str:
    """An empty, migrated SQLite database of the test's own, for adapters that keep CRM links."""
    path = tmp_path / "adapter-store.sqlite3"
    shutil.copy(migrated_sqlite_template, path)
    return f"sqlite:///{path}"
