"""Committed transactions on the store; its errors and timeouts become StoreUnavailable."""

from contextlib import contextmanager, nullcontext

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SATimeoutError

from .db import READ_ONLY, write_lock
from .errors import StoreUnavailable
from .writelock import WriteLockTimeout, busy_timeout_pragma


@contextmanager
def transaction(engine: Engine, *, postgresql_autocommit: bool = False):
    """A committed transaction, or StoreUnavailable if the database cannot take it in time.

    With `postgresql_autocommit`, PostgreSQL commits each statement on its own, without
    BEGIN and COMMIT round trips: for a caller that runs one statement there, or whose
    statements need not stand or fall together. SQLite always runs one transaction, taking
    its write lock up front, queueing on the file's WriteLock first; its own wait gets only
    what is left of the timeout.
    """
    with _unavailable_on_failure(engine):
        if postgresql_autocommit and engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                yield conn
        else:
            with _queued_writer(engine) as seconds_left, engine.connect() as conn:
                if seconds_left is not None:
                    conn.connection.driver_connection.execute(busy_timeout_pragma(seconds_left))
                with conn.begin():
                    yield conn


@contextmanager
def reading(engine: Engine):
    """A transaction that only reads, or StoreUnavailable if the database cannot answer in time.

    It never takes SQLite's write lock nor queues on the file's WriteLock, so health
    checks, scrapes and listings neither wait for webhook writers nor delay them; in WAL
    mode a reader sees the last commit. PostgreSQL runs it as a READ ONLY transaction.
    """
    options = {READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        options["postgresql_readonly"] = True
    with _unavailable_on_failure(engine), engine.connect() as conn:
        with conn.execution_options(**options).begin():
            yield conn


@contextmanager
def driver_transaction(engine: Engine, *, postgresql_autocommit: bool = False,
                       deadline: float | None = None):
    """`transaction` on the pooled driver connection itself, yielding a DBAPI cursor.

    For the webhook's insert and the worker's outcomes, each run once per event:
    SQLAlchemy's Connection costs about a quarter of a millisecond of CPU per transaction
    around them (checkout, events, BEGIN, COMMIT and reset each pass through several
    layers). The pool, its checkout ping and SQLite's connection settings still apply.
    `deadline` (a `time.monotonic()` value) ends the wait for SQLite's write lock before the
    store timeout would, for a writer that has already waited its turn (group_commit.py).
    """
    dialect = engine.dialect
    autocommit = postgresql_autocommit and dialect.name == "postgresql"
    with _unavailable_on_failure(engine), _queued_writer(engine, deadline) as seconds_left:
        connection = engine.raw_connection()
        driver = connection.driver_connection
        try:
            if autocommit:
                driver.autocommit = True
            cursor = driver.cursor()
            if seconds_left is not None:
                cursor.execute(busy_timeout_pragma(seconds_left))
            if dialect.name == "sqlite":
                cursor.execute("BEGIN IMMEDIATE")
            yield cursor
            cursor.close()  # SQLite commits only once no statement of it is still open
            if not autocommit:
                driver.commit()
        finally:
            if autocommit and connection.is_valid:
                _end_autocommit(connection)
            # Back to the pool, which rolls back what was not committed and drops a
            # connection that cannot roll back, such as one the database closed.
            connection.close()


def _end_autocommit(connection) -> None:
    # Other callers of the pool expect BEGIN and COMMIT again; a connection that cannot be
    # switched back is dropped rather than handed out autocommitting.
    try:
        connection.driver_connection.autocommit = False
    except Exception as error:
        connection.invalidate(error)


@contextmanager
def driver_cursor(conn):
    """A DBAPI cursor inside a SQLAlchemy connection's transaction, closed after the block."""
    cursor = conn.connection.driver_connection.cursor()
    try:
        yield cursor
    finally:
        cursor.close()  # SQLite commits only once no statement of it is still open


def _queued_writer(engine: Engine, deadline: float | None = None):
    """On an SQLite file, the wait for its WriteLock, yielding the seconds left for SQLite's
    own wait; elsewhere, nothing to wait for (None)."""
    lock = write_lock(engine)
    return lock.held(deadline) if lock else nullcontext()


@contextmanager
def _unavailable_on_failure(engine: Engine):
    """Turn the database's errors and timeouts into StoreUnavailable."""
    try:
        yield
    except (DBAPIError, engine.dialect.loaded_dbapi.Error, SATimeoutError,
            WriteLockTimeout) as error:
        first_line = (str(error).splitlines() or [type(error).__name__])[0]
        raise StoreUnavailable(first_line) from error
