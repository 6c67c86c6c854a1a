"""Creates the database engines with the durability and timeout settings each backend needs."""

import os
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

from .liveness import ping_when_idle
from .writelock import WriteLock

# The execution option that marks a connection's transactions as reads (transactions.reading).
READ_ONLY = "receiver_read_only"
# The execution option that carries an SQLite file's WriteLock, so the lock goes wherever
# its engine goes, and every connection of the engine queues on the same lock.
WRITE_LOCK = "receiver_write_lock"
# The execution option that carries the engine's store timeout, for waits its callers add.
STORE_TIMEOUT = "receiver_store_timeout"


def make_engine(url: str, *, timeout_seconds: float = 3.0, pool_size: int = 2,
                pre_ping: bool = True, flush_each_commit: bool = True,
                planner_settings: dict[str, str] | None = None) -> Engine:
    """An engine whose commits are durable and whose waits end within `timeout_seconds`.

    The pool is small: a delivery worker runs one delivery at a time, and a gevent web
    worker's requests hold a connection only for their commit (a few milliseconds), so
    `pool_size` plus as many again in overflow serve its bursts; `pre_ping` tests a
    connection that sat idle as it leaves the pool.
    Without `flush_each_commit`, a commit returns before it reaches the disk: a crash of
    the machine or database may lose the last few of them, never an older one.
    `planner_settings` are PostgreSQL settings for each session, such as `enable_sort`.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed, timeout_seconds, flush_each_commit)
        engine.update_execution_options(**{STORE_TIMEOUT: timeout_seconds})
        return engine
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
    engine.update_execution_options(**{STORE_TIMEOUT: timeout_seconds})
    if pre_ping:
        ping_when_idle(engine)
    return engine


def _sqlite_engine(parsed, timeout_seconds: float, flush_each_commit: bool) -> Engine:
    on_disk = parsed.database and parsed.database != ":memory:"
    if on_disk:
        create_private_file(Path(parsed.database))
    engine = create_engine(parsed, connect_args={"timeout": timeout_seconds})
    if on_disk:
        engine.update_execution_options(
            **{WRITE_LOCK: WriteLock(f"{parsed.database}-writelock", timeout_seconds)})

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
        # A transaction that only reads takes no lock until its first read, and never
        # the write lock.
        read_only = conn.get_execution_options().get(READ_ONLY)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def create_private_file(path: Path) -> None:
    """Create the database file, and its folder, readable by this user only, unless they exist.

    The events hold visitors' names, emails and messages. SQLite gives its WAL and
    shared-memory files the database file's permissions.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))


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


def write_lock(engine: Engine) -> WriteLock | None:
    """The lock that queues writers of an SQLite database file; None for other databases."""
    return engine.get_execution_options().get(WRITE_LOCK)


def store_timeout(engine: Engine) -> float:
    """How long the engine's callers may wait for the store, in seconds."""
    return engine.get_execution_options()[STORE_TIMEOUT]
