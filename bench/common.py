"""Shared by the benchmarks: throwaway databases, gunicorn processes, wrk runs, memory readings."""

import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
POSTGRES = os.environ.get("RECEIVER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def database(kind: str):
    """A migrated, empty database URL of `kind` (sqlite or postgresql), removed afterwards."""
    from receiver.config import normalize_database_url
    from receiver.store import schema
    from receiver.store.db import make_engine

    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/bench.sqlite3"
            engine = make_engine(url)
            schema.upgrade(engine)
            engine.dispose()
            yield url
        return
    admin = create_engine(normalize_database_url(POSTGRES), isolation_level="AUTOCOMMIT")
    name = f"receiver_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(normalize_database_url(url))
    schema.upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


@contextlib.contextmanager
def gunicorn(app: str, env: dict, workers: int, root: Path = ROOT):
    """Gunicorn serving `app` from `root` with the settings all benchmarked apps share.

    Yields (url, pid). `python -m` from `root` imports that tree's code, not the installed one.
    """
    port = free_port()
    # Logs go to a file, as a platform's collector takes them, not through a terminal
    # that would slow every line down and flood the report.
    logs = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", app, "--workers", str(workers),
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--backlog", "256"],
        cwd=root, env={**os.environ, **env}, stdout=logs,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}/webhooks/rocketchat", process.pid
    finally:
        process.terminate()
        process.wait(30)
        logs.close()


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU the processes have used so far; a process gone counts as none."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def database_backends(url: str) -> list[int]:
    """PostgreSQL backend processes serving the database of `url`; none for SQLite."""
    if not url.startswith("postgres"):
        return []
    name = url.rsplit("/", 1)[1]
    found = subprocess.run(["pgrep", "-f", f"postgres: .* {name} "], capture_output=True,
                           text=True).stdout
    return [int(pid) for pid in found.split()]


WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def measured_run(target: str, master: int, url: str, script: str, seconds: int,
                 connections: int) -> dict:
    """A warm-up, then a wrk run against gunicorn's `master`, with the CPU each request cost.

    `web_us` is the app's processes' CPU per request, `db_us` that of the PostgreSQL
    backends serving them (SQLite works inside the app).
    """
    run_wrk(target, script, 2, connections)
    web, backends = children(master), database_backends(url)
    web_before, db_before = cpu_seconds(web), cpu_seconds(backends)
    run = run_wrk(target, script, seconds, connections)
    run["web_us"] = (cpu_seconds(web) - web_before) / run["requests"] * 1e6
    run["db_us"] = (cpu_seconds(backends) - db_before) / run["requests"] * 1e6
    return run


def run_wrk(url: str, script: str, seconds: int, connections: int, threads: int = 2) -> dict:
    """Drive `url` with wrk; requests/s, requests in all, latency percentiles (ms), non-2xx count."""
    output = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, url],
        capture_output=True, text=True, check=True,
    ).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
              "requests": int(re.search(r"(\d+) requests in", output).group(1))}
    for percent in ("50", "90", "99"):
        value, unit = re.search(rf"\s{percent}%\s+([\d.]+)(us|ms|s)", output).groups()
        result[f"p{percent}"] = float(value) * WRK_UNITS[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["errors"] = int(errors.group(1)) if errors else 0
    return result
