"""GroupCommit: concurrent writes share a transaction, each caller answered after it commits."""

import threading
import time

import pytest
from freezegun import freeze_time
from sqlalchemy import text

from receiver.store.group_commit import GroupCommit, _Ticket
from receiver.store.errors import StoreUnavailable

from .builders import TOKEN, visitor_message
from .stored import count


class Refused(Exception):
    """The database refused one write."""


class Store:
    """A `run` for GroupCommit that records each transaction's items and can be held open."""

    def __init__(self, refuse=()):
        self.transactions: list[list] = []
        self.refuse = set(refuse)
        self.hold = threading.Event()
        self.hold.set()
        self.running = threading.Event()

    def run(self, take, deadline):
        items = take()
        self.running.set()
        self.hold.wait()
        if self.refuse.intersection(items):
            raise Refused(f"refused {sorted(self.refuse.intersection(items))}")
        self.transactions.append(list(items))
        return [f"stored {item}" for item in items]


def submit_in_thread(group, item, answers):
    def target():
        try:
            answers[item] = group.submit(item)
        except BaseException as error:  # Killed included: the test reads what each caller heard
            answers[item] = error
    thread = threading.Thread(target=target)
    thread.start()
    return thread


def wait_until(condition):
    for _ in range(10_000):
        if condition():
            return
        time.sleep(0.001)
    raise AssertionError("condition never held")


def test_a_write_alone_commits_alone():
    store = Store()
    group = GroupCommit(store.run, timeout_seconds=3)
    assert group.submit("a") == "stored a"
    assert store.transactions == [["a"]]


def behind_a_running_commit(store: Store) -> dict:
    """Write `a` alone; while its commit runs, `b`, `c` and `d` arrive. Every answer, by item."""
    group = GroupCommit(store.run, timeout_seconds=3)
    store.hold.clear()
    answers = {}
    first = submit_in_thread(group, "a", answers)
    store.running.wait()
    rest = [submit_in_thread(group, item, answers) for item in "bcd"]
    wait_until(lambda: len(group._pending) == 3)
    store.hold.set()
    for thread in [first, *rest]:
        thread.join()
    return answers


def test_writes_arriving_during_a_commit_share_the_next_one():
    store = Store()
    answers = behind_a_running_commit(store)
    assert store.transactions[0] == ["a"]
    assert sorted(store.transactions[1]) == ["b", "c", "d"]
    assert len(store.transactions) == 2
    assert answers == {item: f"stored {item}" for item in "abcd"}


def test_writes_arriving_while_a_transaction_waits_to_start_join_it():
    # As a write on SQLite waits for the file's write lock while another process commits.
    lock_free, waiting = threading.Event(), threading.Event()
    transactions = []

    def run(take, deadline):
        waiting.set()
        lock_free.wait()
        transactions.append(take())
        return [f"stored {item}" for item in transactions[-1]]

    group = GroupCommit(run, timeout_seconds=3)
    answers = {}
    first = submit_in_thread(group, "a", answers)
    waiting.wait()
    rest = [submit_in_thread(group, item, answers) for item in "bc"]
    wait_until(lambda: len(group._pending) == 3)
    lock_free.set()
    for thread in [first, *rest]:
        thread.join()
    assert [sorted(items) for items in transactions] == [["a", "b", "c"]]
    assert answers == {item: f"stored {item}" for item in "abc"}


def test_a_refused_write_fails_alone_and_the_others_are_stored():
    store = Store(refuse={"c"})
    answers = behind_a_running_commit(store)
    assert isinstance(answers.pop("c"), Refused)
    assert answers == {item: f"stored {item}" for item in "abd"}
    assert sorted(map(tuple, store.transactions)) == [("a",), ("b",), ("d",)]


class HeldStore(Store):
    """A Store whose transactions that hold a chosen item stay open until that item is let go."""

    def __init__(self, held):
        super().__init__()
        self.gates = {item: threading.Event() for item in held}
        self.started: list[list] = []

    def run(self, take, deadline):
        items = take()
        self.started.append(list(items))
        for item in items:
            if item in self.gates:
                self.gates[item].wait()
        return super().run(lambda: items, deadline)


def b_and_c_behind_a(group, store: HeldStore, answers: dict) -> list:
    """Write `a` held open, queue `b` and `c` behind it, then let `a` go; the callers' threads."""
    first = submit_in_thread(group, "a", answers)
    wait_until(lambda: store.started == [["a"]])
    rest = [submit_in_thread(group, item, answers) for item in "bc"]
    wait_until(lambda: len(group._pending) == 2)
    store.gates["a"].set()
    return [first, *rest]


def test_a_write_taken_into_a_transaction_is_answered_when_it_ends_not_after_the_next():
    store = HeldStore(held="ad")
    group = GroupCommit(store.run, timeout_seconds=5)
    answers = {}
    first, *waiting = b_and_c_behind_a(group, store, answers)
    wait_until(lambda: len(store.transactions) == 2)  # b and c, together
    last = submit_in_thread(group, "d", answers)
    wait_until(lambda: store.started[-1] == ["d"])
    # d's transaction is still open; b's and c's ended before it began.
    for thread in waiting:
        thread.join(timeout=5)
    assert {item: answers.get(item) for item in "bc"} == {"b": "stored b", "c": "stored c"}
    store.gates["d"].set()
    for thread in (first, last):
        thread.join()
    assert sorted(store.transactions[1]) == ["b", "c"]
    assert answers == {item: f"stored {item}" for item in "abcd"}


class Killed(BaseException):
    """What stops a greenlet or thread mid-call (GreenletExit, KeyboardInterrupt)."""


def test_writes_whose_transaction_is_interrupted_fail_and_the_next_write_gets_its_turn():
    store = HeldStore(held="a")
    interrupted = store.run

    def run(take, deadline):
        items = take()
        if "b" in items:
            raise Killed()
        return interrupted(lambda: items, deadline)

    group = GroupCommit(run, timeout_seconds=5)
    answers = {}
    for thread in b_and_c_behind_a(group, store, answers):
        thread.join(timeout=5)
    # The caller whose turn it was hears what stopped it; the other is told the write failed.
    assert sorted(type(answers[item]).__name__ for item in "bc") == ["Killed", "StoreUnavailable"]
    assert group.submit("d") == "stored d"


def test_a_write_that_gets_no_turn_in_time_is_refused_and_never_written():
    store = Store()
    group = GroupCommit(store.run, timeout_seconds=0.01)
    store.hold.clear()
    answers = {}
    first = submit_in_thread(group, "a", answers)
    store.running.wait()
    with pytest.raises(StoreUnavailable, match="no turn to write within 0.01 s"):
        group.submit("b")
    store.hold.set()
    first.join()
    assert group._pending == []
    assert store.transactions == [["a"]]


def test_a_shared_transaction_that_ran_out_of_time_is_not_tried_again_write_by_write():
    with freeze_time("2026-12-01 12:00:00") as frozen:
        calls = []

        def run(take, deadline):
            calls.append(take())
            frozen.tick(5)  # the store answered only after the timeout
            raise StoreUnavailable("timed out")

        group = GroupCommit(run, timeout_seconds=3)
        # Two writes waiting together, as a turn takes every write waiting.
        group._pending = [_Ticket(item, time.monotonic() + 3) for item in "ab"]
        batch = []
        group._commit(batch)
    assert calls == [["a", "b"]]
    assert all(isinstance(ticket.error, StoreUnavailable) for ticket in batch)


def post_from_threads(app, bodies_by_thread) -> list:
    """Post each thread's bodies at once from as many threads; every answer, in no order."""
    answers, start = [], threading.Barrier(len(bodies_by_thread))

    def target(bodies):
        client = app.test_client()
        start.wait()
        for body in bodies:
            answers.append(client.post("/webhooks/rocketchat", json=body,
                                       headers={"X-RocketChat-Livechat-Token": TOKEN}))
    threads = [threading.Thread(target=target, args=(bodies,)) for bodies in bodies_by_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_concurrent_webhooks_are_each_stored_once_with_their_deliveries(app, engine):
    bodies = [[visitor_message(f"room{t}", f"msg{t}-{n}") for n in range(20)] for t in range(8)]
    answers = post_from_threads(app, bodies)
    assert sorted({answer.status_code for answer in answers}) == [200]
    assert len({answer.get_json()["id"] for answer in answers}) == 160
    assert not any(answer.get_json()["duplicate"] for answer in answers)
    assert count(engine, "events") == count(engine, "deliveries") == 160


def test_the_same_event_sent_at_once_from_eight_threads_is_stored_once(app, engine):
    body = visitor_message("room1", "msg1")
    answers = post_from_threads(app, [[body]] * 8)
    assert [answer.status_code for answer in answers] == [200] * 8
    assert sorted(answer.get_json()["duplicate"] for answer in answers) == [False] + [True] * 7
    assert count(engine, "events") == count(engine, "deliveries") == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT resends FROM events")).scalar_one() == 7
