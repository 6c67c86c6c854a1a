"""A lock on the store held by another connection, for tests of what waits on it and what does not."""

import threading

from sqlalchemy import text


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
        """Take the lock in the holder's thread; return once it is held."""
        self._holder.start()
        assert self._locked.wait(10)
        return self

    def __enter__(self):
        return self.hold()

    def release(self):
        """Let the lock go and wait for the holder to finish."""
        self._release.set()
        self._holder.join()

    def __exit__(self, *exc_info):
        self.release()
