"""Writes that arrive together share one commit, and each caller returns only after it.

Every accepted webhook must be on disk before its 200, and the flush of a commit costs
more than everything else a request does. Under gevent a web process serves many
requests at once; while one commits, the others queue here, and the next commit takes
all of them in one transaction: one flush for the lot, each answer still after its own
write is durable. A write that arrives alone commits alone, as before.
"""

import threading
import time
from functools import partial

from .db import store_timeout
from .errors import StoreUnavailable
from .transactions import driver_transaction

# The execution option that carries an engine's GroupCommit, so every caller shares one.
SHARED = "receiver_group_commit"
_attaching = threading.Lock()


class _Ticket:
    """One caller's write: what to store, and what came of it."""

    __slots__ = ("item", "deadline", "taken", "done", "result", "error")

    def __init__(self, item, deadline: float):
        self.item, self.deadline = item, deadline
        self.taken = self.done = False
        self.result = self.error = None


class GroupCommit:
    """Runs the writes of concurrent callers in shared transactions, one transaction at a time.

    `run(items, deadline)` writes `items` in one transaction that gives up by `deadline` (a
    `time.monotonic()` value) and returns one result per item, in order. If a shared
    transaction fails, each of its writes is tried again on its own, so one write the
    database refuses fails alone; if the store did not answer in time, all of them fail.
    """

    def __init__(self, run, timeout_seconds: float):
        self.run = run
        self.timeout_seconds = timeout_seconds
        self._pending: list[_Ticket] = []
        self._queue = threading.Lock()  # guards _pending: held for microseconds
        self._turn = threading.Lock()  # held by the caller whose transaction is running

    def submit(self, item):
        """Write `item` in the next transaction and return its result, once committed."""
        ticket = _Ticket(item, time.monotonic() + self.timeout_seconds)
        with self._queue:
            self._pending.append(ticket)
        if not self._turn.acquire(timeout=self.timeout_seconds):
            with self._queue:
                if not ticket.taken:
                    self._pending.remove(ticket)
                    raise StoreUnavailable(
                        f"no turn to write within {self.timeout_seconds:g} s")
            # Already in the transaction now running: its outcome is this caller's too.
            self._turn.acquire()
        try:
            if not ticket.done:  # not taken by an earlier turn: take every write waiting
                with self._queue:
                    batch, self._pending = self._pending, []
                    for waiting in batch:
                        waiting.taken = True
                self._commit(batch)
        finally:
            self._turn.release()
        if ticket.error is not None:
            raise ticket.error
        return ticket.result

    def _commit(self, batch: list[_Ticket]) -> None:
        """Write the batch in one transaction, or each of its writes alone if that fails."""
        try:
            self._settle(batch, self.run([t.item for t in batch],
                                         min(t.deadline for t in batch)))
            return
        except Exception as error:
            shared_error = error
        for ticket in batch:
            # Alone, a write the database refused fails by itself; a store that did not
            # answer in time has left no time to try again.
            if len(batch) == 1 or time.monotonic() >= ticket.deadline:
                self._fail(ticket, shared_error)
                continue
            try:
                self._settle([ticket], self.run([ticket.item], ticket.deadline))
            except Exception as error:
                self._fail(ticket, error)

    @staticmethod
    def _settle(batch: list[_Ticket], results: list) -> None:
        for ticket, result in zip(batch, results, strict=True):
            ticket.result, ticket.done = result, True

    @staticmethod
    def _fail(ticket: _Ticket, error: Exception) -> None:
        ticket.error, ticket.done = error, True


def shared(engine) -> GroupCommit:
    """The engine's GroupCommit, made on first use.

    Each write it is given is a function of a DBAPI cursor that runs one statement on
    PostgreSQL: a write alone commits on its own there, without BEGIN and COMMIT.
    """
    group = engine.get_execution_options().get(SHARED)
    if group is None:
        with _attaching:
            group = engine.get_execution_options().get(SHARED)
            if group is None:
                group = GroupCommit(partial(_run, engine), store_timeout(engine))
                engine.update_execution_options(**{SHARED: group})
    return group


def _run(engine, writes, deadline: float) -> list:
    with driver_transaction(engine, postgresql_autocommit=len(writes) == 1,
                            deadline=deadline) as cursor:
        return [write(cursor) for write in writes]
