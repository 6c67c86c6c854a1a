"""Queues the processes that write one SQLite file, so a waiting writer starts as soon as it may.

SQLite's own busy handler sleeps 1, 2, 5, 10 ms and longer between tries, so a writer
that finds the file locked for a 0.3 ms commit idles for a millisecond or more. Taking
an advisory lock on a file beside the database first, and polling it every 50 µs to
1 ms, hands the write lock over within a fraction of a commit. SQLite's own locking
still decides correctness; this lock only shortens the wait, so a writer that does not
take it (a migration, the sqlite3 shell) is merely waited for the slow way.

Both waits share one deadline: `held()` yields the time left of the timeout, and the
writer gives SQLite's own wait only that (`busy_timeout_pragma`). Otherwise a writer
queued here behind one stuck in SQLite's wait could wait twice the timeout, past the
sender's.
"""

import fcntl
import os
import threading
import time
import weakref
from contextlib import contextmanager

FIRST_POLL_SECONDS = 0.00005
LAST_POLL_SECONDS = 0.001

_instances: "weakref.WeakSet[WriteLock]" = weakref.WeakSet()


class WriteLockTimeout(Exception):
    """Another writer held the database longer than the store timeout."""


class WriteLock:
    """An exclusive lock shared by every thread and process writing one database file."""

    def __init__(self, path: str, timeout_seconds: float):
        self.path = path
        self.timeout_seconds = timeout_seconds
        # flock does not exclude threads sharing a descriptor, so threads queue here first.
        self._threads = threading.Lock()
        _instances.add(self)

    @contextmanager
    def held(self, deadline: float | None = None):
        """Hold the lock for the block, yielding the seconds left of `timeout_seconds`.

        Raises WriteLockTimeout when the lock is not free within `timeout_seconds`, or by
        `deadline` (a `time.monotonic()` value) for a writer that has waited already.
        """
        if deadline is None:
            deadline = time.monotonic() + self.timeout_seconds
        if not self._threads.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise WriteLockTimeout(f"another thread held {self.path} for {self.timeout_seconds} s")
        try:
            # A descriptor per hold: a few microseconds, and nothing for a fork to share.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                self._wait_for(fd, deadline)
                yield max(0.0, deadline - time.monotonic())
            finally:
                os.close(fd)  # closing releases the flock
        finally:
            self._threads.release()

    def _wait_for(self, fd: int, deadline: float) -> None:
        pause = FIRST_POLL_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WriteLockTimeout(
                        f"another process held {self.path} for {self.timeout_seconds} s") from None
            time.sleep(pause)
            pause = min(pause * 2, LAST_POLL_SECONDS)

    def _forget_threads(self) -> None:
        self._threads = threading.Lock()


def busy_timeout_pragma(seconds_left: float) -> str:
    """The statement that makes SQLite's own wait for the file end within `seconds_left`."""
    return f"PRAGMA busy_timeout={int(seconds_left * 1000)}"


def _after_fork_in_child() -> None:
    # A fork copies a thread lock in whatever state it was; the child's threads start afresh.
    for lock in list(_instances):
        lock._forget_threads()


os.register_at_fork(after_in_child=_after_fork_in_child)
