"""Creates the database engine with the durability and timeout settings each backend needs."""

import weakref
from contextlib import contextmanager, nullcontext
from pathlib import Path

from flask import current_app
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SATimeoutError

from .liveness import ping_when_idle
from .writelock import WriteLock, WriteLockTimeout

EXTENSION = "receiver.engine"

# The write lock of each SQLite engine that has a database file.
_write_locks: "weakref.WeakKeyDictionary[Engine, WriteLock]" = weakref.WeakKeyDictionary()


class StoreUnavailable(Exception):
    """The store could not commit within the bounded time; the sender should retry."""


def make_engine(url: str, *, timeout_seconds: float = 3.0, pool_size: int = 2,
                pre_ping: bool = True, flush_each_commit: bool = True,
                planner_settings: dict[str, str] | None = None) -> Engine:
    """An engine whose commits are durable and whose waits end within `timeout_seconds`.

    The pool is small because a sync gunicorn worker or a delivery worker runs one
    request or delivery at a time; `pre_ping` tests a connection that sat idle as it
    leaves the pool.
    Without `flush_each_commit`, a commit returns before it reaches the disk: a crash of
    the machine or database may lose the last few of them, never an older one.
    `planner_settings` are PostgreSQL settings for each session, such as `enable_sort`.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, timeout_seconds, flush_each_commit)
    millis = int(timeout_seconds * 1000)
    flush = "" if flush_each_commit else " -c synchronous_commit=off"
    planner = "".join(f" -c {name}={value}" for name, value in (planner_settings or {}).items())
    engine = create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=timeout_seconds,
        pool_recycle=1800,
        connect_args={
            "connect_timeout": max(1, int(timeout_seconds)),
            # A stuck database must turn into a 503, not a request hanging past the
            # sender's 5 s timeout.
            "options": f"-c statement_timeout={millis} -c lock_timeout={millis}{flush}{planner}",
        },
    )
    if pre_ping:
        ping_when_idle(engine)
    return engine


def _sqlite_engine(parsed, timeout_seconds: float, flush_each_commit: bool) -> Engine:
    on_disk = parsed.database and parsed.database != ":memory:"
    if on_disk:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": timeout_seconds})
    if on_disk:
        _write_locks[engine] = WriteLock(f"{parsed.database}-writelock", timeout_seconds)

    @event.listens_for(engine, "connect")
    def configure(dbapi_connection, record):
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before the 200, even across a power cut. NORMAL (in
        # WAL mode) survives a crash of the process, not of the machine.
        cursor.execute(f"PRAGMA synchronous={'FULL' if flush_each_commit else 'NORMAL'}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(timeout_seconds * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def begin_immediate(conn):
        # Take the write lock up front so two writers queue on busy_timeout instead of
        # failing with "database is locked" when a read transaction tries to upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_worker_engine(url: str, timeout_seconds: float) -> Engine:
    """The delivery worker's engine: its claims stay index walks, its commits skip the flush.

    No pre-ping: a stale connection fails one step, which the worker logs and retries on a
    fresh connection; a ping per claim would cost a round trip on every delivery.
    No flush per commit: the worker only writes its own bookkeeping (leases, outcomes),
    and losing the last of it to a machine crash repeats a delivery, which adapters
    absorb; events themselves are written by the web process, flushed before the 200.
    No sorting: until its statistics know of the backlog (a new database, or a burst
    before autovacuum analyzes again), PostgreSQL expects one pending row and sorts the
    whole backlog for every claim instead of walking `ix_deliveries_claim`, which is in
    due order already. None of the worker's statements needs a sort otherwise.
    Custom plans only: psycopg prepares a statement it runs repeatedly, and a generic plan
    for the claim (blind to `now`) walks the whole backlog. Web processes keep generic
    plans, so their inserts are not planned again for every request.
    """
    return make_engine(url, timeout_seconds=timeout_seconds, pre_ping=False,
                       flush_each_commit=False,
                       planner_settings={"enable_sort": "off",
                                         "plan_cache_mode": "force_custom_plan"})


def init_app(app, settings) -> None:
    """Create the app's engine and keep it in `app.extensions`."""
    app.extensions[EXTENSION] = make_engine(
        settings.database_url, timeout_seconds=settings.store_timeout_seconds,
    )


def get_engine() -> Engine:
    """The current app's engine."""
    return current_app.extensions[EXTENSION]


@contextmanager
def transaction(engine: Engine, *, one_statement: bool = False):
    """A committed transaction, or StoreUnavailable if the database cannot take it in time.

    With `one_statement`, the caller runs a single statement, which PostgreSQL commits on
    its own: no BEGIN and COMMIT round trips. SQLite always takes its write lock up front,
    queueing on the file's WriteLock first.
    """
    with _unavailable_on_failure(engine):
        if one_statement and engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                yield conn
        else:
            lock = _write_locks.get(engine)
            with lock.held() if lock else nullcontext(), engine.begin() as conn:
                yield conn


@contextmanager
def driver_transaction(engine: Engine, *, one_statement: bool = False):
    """`transaction` on the pooled driver connection itself, yielding a DBAPI cursor.

    For the webhook's insert, run thousands of times a second: SQLAlchemy's Connection
    costs about a quarter of a millisecond of CPU per transaction around it (checkout,
    events, BEGIN, COMMIT and reset each pass through several layers). The pool, its
    checkout ping and SQLite's connection settings still apply.
    """
    dialect = engine.dialect
    autocommit = one_statement and dialect.name == "postgresql"
    lock = _write_locks.get(engine)
    with _unavailable_on_failure(engine), lock.held() if lock else nullcontext():
        connection = engine.raw_connection()
        driver = connection.driver_connection
        try:
            if autocommit:
                driver.autocommit = True
            cursor = driver.cursor()
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


@contextmanager
def _unavailable_on_failure(engine: Engine):
    """Turn the database's errors and timeouts into StoreUnavailable."""
    try:
        yield
    except (DBAPIError, engine.dialect.loaded_dbapi.Error, SATimeoutError,
            WriteLockTimeout) as error:
        first_line = (str(error).splitlines() or [type(error).__name__])[0]
        raise StoreUnavailable(first_line) from error
