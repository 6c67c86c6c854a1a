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

    `run(take, deadline)` opens one transaction that gives up by `deadline` (a
    `time.monotonic()` value), calls `take()` once, when it can write, for the items to
    write, and returns one result per item, in order: writes that arrive while it waits
    to start, for SQLite's file lock say, join that transaction. If a shared
    transaction fails, each of its writes is tried again on its own, so one write the
    database refuses fails alone; if the store did not answer in time, all of them fail.
    """

    def __init__(self, run, timeout_seconds: float):
        self.run = run
        self.timeout_seconds = timeout_seconds
        self._pending: list[_Ticket] = []
        self._leading = False  # a caller's transaction is running
        # Guards _pending and _leading, held for microseconds; callers wait on it for
        # their own write to be done or for their turn to start a transaction.
        self._state = threading.Condition(threading.Lock())

    def submit(self, item):
        """Write `item` in the next transaction and return its result, once committed."""
        ticket = _Ticket(item, time.monotonic() + self.timeout_seconds)
        if self._queue(ticket):
            self._lead()
        if ticket.error is not None:
            raise ticket.error
        return ticket.result

    def _queue(self, ticket: _Ticket) -> bool:
        """Wait until another caller's transaction has done `ticket`'s write (False), or until
        no transaction runs: then it is this caller's turn to run one (True)."""
        with self._state:
            self._pending.append(ticket)
            # A caller whose write another caller's transaction took is answered as soon as
            # that transaction ends, not after every caller queued before it has had a turn.
            if not self._state.wait_for(lambda: ticket.done or not self._leading,
                                        timeout=self.timeout_seconds):
                if not ticket.taken:
                    self._pending.remove(ticket)
                    raise StoreUnavailable(f"no turn to write within {self.timeout_seconds:g} s")
                # Already in the transaction now running: its outcome is this caller's too.
                self._state.wait_for(lambda: ticket.done)
            if ticket.done:
                return False
            self._leading = True
            return True

    def _lead(self) -> None:
        """Run this caller's turn: write what is waiting, then answer its callers and end the turn."""
        batch: list[_Ticket] = []
        try:
            self._commit(batch)
        finally:
            for taken in batch:
                if not taken.done:  # interrupted mid-commit: tell its callers, or they wait on
                    self._fail(taken, StoreUnavailable("the write was interrupted"))
            with self._state:
                self._leading = False
                self._state.notify_all()

    def _commit(self, batch: list[_Ticket]) -> None:
        """Write what is waiting in one transaction, or each write alone if that fails.

        What it takes is added to `batch`, once the transaction is ready for it.
        """
        def take() -> list:
            with self._state:
                batch.extend(self._pending)
                self._pending = []
                for waiting in batch:
                    waiting.taken = True
            return [waiting.item for waiting in batch]

        with self._state:  # writes that join later were sent later, so have later deadlines
            deadline = min(waiting.deadline for waiting in self._pending)
        try:
            self._settle(batch, self.run(take, deadline))
            return
        except Exception as error:
            shared_error = error
        if not batch:  # failed before it could write: the writes waiting fail with it
            take()
        for ticket in batch:
            # Alone, a write the database refused fails by itself; a store that did not
            # answer in time has left no time to try again.
            if len(batch) == 1 or time.monotonic() >= ticket.deadline:
                self._fail(ticket, shared_error)
                continue
            try:
                self._settle([ticket], self.run(lambda item=ticket.item: [item], ticket.deadline))
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


def _run(engine, take, deadline: float) -> list:
    if engine.dialect.name != "postgresql":
        # SQLite: the writes that arrive while this waits for the file's write lock (another
        # process is committing) join this transaction, not the next.
        with driver_transaction(engine, deadline=deadline) as cursor:
            return [write(cursor) for write in take()]
    writes = take()
    with driver_transaction(engine, postgresql_autocommit=len(writes) == 1,
                            deadline=deadline) as cursor:
        return [write(cursor) for write in writes]
