"""Delivery benchmark: `receiver worker` processes draining a backlog into a local HTTP sink.

    python bench/delivery.py [--databases sqlite,postgresql] [--events 3000] [--workers 1,2,4]

The baseline is one process POSTing the same events to the same sink over one kept-alive
connection: the most a single delivering process could do against this sink. It is
measured again before each drain, and each drain is compared with its own baseline.
It also prints the CPU each event cost in the workers and in the PostgreSQL backends.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import urllib3
from sqlalchemy import func, select, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    ROOT, TOKEN, cpu_seconds, database, database_backends, free_port, peak_rss_mb, wait_for_port,
)
from receiver import intake  # noqa: E402
from receiver.store.db import make_engine  # noqa: E402
from receiver.store.tables import DELIVERED, PENDING, deliveries, events  # noqa: E402


def fill(engine, count: int, conversations: int) -> list[str]:
    """Store `count` distinct Message events over `conversations` rooms; their payloads."""
    template = json.loads((ROOT / "receiver" / "samples" / "e-message-visitor.json").read_text())
    now = datetime.now(timezone.utc)
    for n in range(count):
        template["_id"] = f"room{n % conversations}"
        template["messages"][0]["_id"] = f"bench{n}"
        intake.accept(engine, json.dumps(template).encode(), ("http",), now)
    with engine.connect() as conn:
        return [row.payload for row in conn.execute(select(events.c.payload))]


def baseline(url: str, payloads: list[str]) -> float:
    """Events/s of one process posting straight to the sink, with the http adapter's client."""
    pool = urllib3.PoolManager(retries=False, timeout=10)
    started = time.monotonic()
    for payload in payloads:
        pool.request("POST", url, body=payload.encode(),
                     headers={"Content-Type": "application/json", "webhook-id": "baseline"})
    return len(payloads) / (time.monotonic() - started)


def reset(engine) -> None:
    with engine.begin() as conn:
        conn.execute(update(deliveries).values(
            state=PENDING, attempts=0, due_at=datetime.now(timezone.utc), lease_owner=None,
            lease_expires_at=None, finished_at=None))


def drain(engine, env: dict, processes: int, total: int) -> dict:
    """Events/s of `processes` workers emptying the backlog, their CPU per event and peak RSS."""
    workers = [subprocess.Popen([sys.executable, "-m", "receiver", "worker"], cwd=ROOT,
                                env={**os.environ, **env, "RECEIVER_LOG_LEVEL": "WARNING"})
               for _ in range(processes)]
    pids = [process.pid for process in workers]
    first_seen = None  # (delivered, worker CPU, each backend's CPU) once deliveries flow
    try:
        while True:
            with engine.connect() as conn:
                done = conn.execute(select(func.count()).where(
                    deliveries.c.state == DELIVERED)).scalar_one()
            if first_seen is None and done:
                # CPU is counted from here, past the workers' start (interpreter, imports).
                backends = {pid: cpu_seconds([pid])
                            for pid in database_backends(env["DATABASE_URL"])}
                first_seen = (done, cpu_seconds(pids), backends)
            if done >= total:
                break
            # Seldom: the rate is timed from the rows' finish times, and every count here
            # takes CPU (and on SQLite the write lock) from the workers being measured.
            time.sleep(0.25)
        counted = done - first_seen[0]
        worker_cpu = (cpu_seconds(pids) - first_seen[1]) / counted if counted else 0.0
        # A worker may connect after deliveries began: its backend counts from its start.
        backends = set(first_seen[2]) | set(database_backends(env["DATABASE_URL"]))
        db_seconds = sum(max(0.0, cpu_seconds([pid]) - first_seen[2].get(pid, 0.0))
                         for pid in backends)
        db_cpu = db_seconds / counted if counted else 0.0
        # Steady state: from the first delivery's end to the last's, so the workers' start
        # is not counted as delivery time.
        with engine.connect() as conn:
            first, last = conn.execute(select(func.min(deliveries.c.finished_at),
                                              func.max(deliveries.c.finished_at))).one()
        elapsed = (last - first).total_seconds()
        memory = max(peak_rss_mb(pid) for pid in pids)
    finally:
        for process in workers:
            process.terminate()
        for process in workers:
            process.wait(30)
    return {"rate": (total - 1) / elapsed, "worker_us": worker_cpu * 1e6,
            "db_us": db_cpu * 1e6, "rss_mb": memory}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--conversations", type=int, default=300)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    port = free_port()
    sink = subprocess.Popen([sys.executable, str(ROOT / "bench" / "sink.py"), "--port", str(port)],
                            stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/events"
    try:
        wait_for_port(port)
        print(f"{args.events} events over {args.conversations} conversations, http adapter to a local sink")
        print(f"{'database':<11}{'workers':>8}{'events/s':>10}{'per worker':>12}"
              f"{'baseline/s':>12}{'vs baseline':>13}{'peak RSS MB':>13}"
              f"{'worker us/ev':>14}{'db us/ev':>10}")
        for kind in args.databases.split(","):
            with database(kind) as db_url:
                engine = make_engine(db_url)
                payloads = fill(engine, args.events, args.conversations)
                env = {"ROCKETCHAT_LIVECHAT_TOKEN": TOKEN, "DATABASE_URL": db_url,
                       "RECEIVER_ADAPTERS": "http", "RECEIVER_HTTP_URL": url}
                for processes in (int(n) for n in args.workers.split(",")):
                    # Measured just before each drain, so both see the same machine state.
                    ceiling = baseline(url, payloads)
                    reset(engine)
                    run = drain(engine, env, processes, len(payloads))
                    rate = run["rate"]
                    print(f"{kind:<11}{processes:>8}{rate:>10.0f}{rate / processes:>12.0f}"
                          f"{ceiling:>12.0f}{rate / ceiling:>13.2f}{run['rss_mb']:>13.1f}"
                          f"{run['worker_us']:>14.0f}{run['db_us']:>10.0f}", flush=True)
                engine.dispose()
    finally:
        sink.terminate()
        sink.wait(10)


if __name__ == "__main__":
    main()
