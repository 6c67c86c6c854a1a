"""The lock that queues SQLite writers: exclusion across processes and threads, and its timeout."""

import json
import multiprocessing
import subprocess
import sys
import threading
import time

import pytest

from receiver import create_app
from receiver.store import schema
from receiver.state import current
from receiver.store.db import make_engine
from receiver.store.writelock import WriteLock, WriteLockTimeout

from .builders import TOKEN, payload
from .locks import StoreLock
from .stored import count

HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def other_process_holding():
    """Start a process that holds a lock file until the returned function lets it go."""
    holders = []

    def hold(path):
        holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline() == "held\n"
        holders.append(holder)

        def let_go():
            holder.stdin.close()
            holder.wait(10)
        return let_go

    yield hold
    for holder in holders:
        holder.kill()
        holder.wait()


def test_a_lock_held_by_another_process_times_out(tmp_path, other_process_holding):
    path = tmp_path / "db-writelock"
    other_process_holding(path)
    with pytest.raises(WriteLockTimeout, match="another process"):
        with WriteLock(str(path), timeout_seconds=0).held():
            pass


def test_a_waiting_writer_goes_as_soon_as_the_holder_lets_go(tmp_path, other_process_holding):
    path = tmp_path / "db-writelock"
    let_go = other_process_holding(path)
    entered = threading.Event()

    def write():
        with WriteLock(str(path), timeout_seconds=30).held():
            entered.set()

    writer = threading.Thread(target=write)
    writer.start()
    assert not entered.wait(0.2)  # still queued behind the other process
    let_go()
    writer.join(10)
    assert entered.is_set()


def test_threads_sharing_a_lock_exclude_each_other(tmp_path):
    lock = WriteLock(str(tmp_path / "db-writelock"), timeout_seconds=0)
    outcome = []

    with lock.held():
        def second_writer():
            try:
                with lock.held():
                    outcome.append("entered")
            except WriteLockTimeout as error:
                outcome.append(str(error))
        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join(10)
    assert outcome == [f"another thread held {lock.path} for 0 s"]
    with lock.held():  # released again after both
        pass


def _try_in_child(lock: WriteLock, answers) -> None:
    try:
        with lock.held():
            answers.put("entered")
    except WriteLockTimeout as error:
        answers.put(str(error))


def test_a_forked_child_neither_shares_the_parents_hold_nor_inherits_its_thread_lock(tmp_path):
    lock = WriteLock(str(tmp_path / "db-writelock"), timeout_seconds=0)
    context = multiprocessing.get_context("fork")
    answers = context.Queue()
    with lock.held():
        child = context.Process(target=_try_in_child, args=(lock, answers))
        child.start()
        # The child's thread lock starts free, so it is the parent's flock that stops it.
        assert answers.get(timeout=30) == f"another process held {lock.path} for 0 s"
        child.join(30)
    child = context.Process(target=_try_in_child, args=(lock, answers))
    child.start()
    assert answers.get(timeout=30) == "entered"
    child.join(30)


def test_a_sqlite_engine_queues_on_the_file_beside_its_database(tmp_path, other_process_holding):
    database = tmp_path / "receiver.sqlite3"
    engine = make_engine(f"sqlite:///{database}", timeout_seconds=0.2)
    schema.upgrade(engine)
    let_go = other_process_holding(f"{database}-writelock")
    app = create_app({"ROCKETCHAT_LIVECHAT_TOKEN": TOKEN, "DATABASE_URL": f"sqlite:///{database}",
                      "RECEIVER_ADAPTERS": "log", "RECEIVER_STORE_TIMEOUT_SECONDS": "0.2"})
    client = app.test_client()

    def post():
        return client.post("/webhooks/rocketchat", data=json.dumps(payload("e-message-visitor")),
                           headers={"X-RocketChat-Livechat-Token": TOKEN,
                                    "Content-Type": "application/json"})

    refused = post()
    assert refused.status_code == 503
    assert refused.headers["Retry-After"].isdigit()
    let_go()
    assert post().status_code == 200
    assert count(engine, "events") == 1
    current(app).engine.dispose()
    engine.dispose()


STORE_TIMEOUT = 2.0
MARGIN = 1.0  # for a busy machine; the two waits added up came to 1.6 s past the timeout


@pytest.mark.parametrize("body", [
    payload("e-message-visitor"),  # stored on the driver's connection
    {"type": "Message"},  # quarantined through a SQLAlchemy transaction
])
def test_the_queue_and_sqlites_own_wait_end_within_one_store_timeout(
        tmp_path, other_process_holding, body):
    database = tmp_path / "receiver.sqlite3"
    app = create_app({"ROCKETCHAT_LIVECHAT_TOKEN": TOKEN, "DATABASE_URL": f"sqlite:///{database}",
                      "RECEIVER_ADAPTERS": "log",
                      "RECEIVER_STORE_TIMEOUT_SECONDS": str(STORE_TIMEOUT)})
    engine = current(app).engine
    schema.upgrade(engine)
    # Another writer queues ahead for most of the timeout, while one that does not queue
    # (the sqlite3 shell, a migration) holds the database itself throughout.
    let_go = other_process_holding(f"{database}-writelock")
    with StoreLock(engine):
        threading.Timer(STORE_TIMEOUT * 0.8, let_go).start()
        started = time.monotonic()
        response = app.test_client().post(
            "/webhooks/rocketchat", data=json.dumps(body),
            headers={"X-RocketChat-Livechat-Token": TOKEN})
        waited = time.monotonic() - started
    assert response.status_code == 503
    assert waited < STORE_TIMEOUT + MARGIN
    engine.dispose()
