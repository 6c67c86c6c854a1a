"""Ingest benchmark: the receiver against bare Flask, same gunicorn settings, same wrk load.

    python bench/ingest.py [--databases sqlite,postgresql] [--seconds 10] [--rounds 3]

Each round runs bare Flask, then bare Flask with one flushed INSERT per request (the floor
of any receiver that commits before it answers), then that floor plus the receiver's schema
check alone (the ceiling of any receiver that validates each body), then the receiver (full
validation, dedup, durable commit), alternating so that all see the same machine state. Bodies are realistic
Message events with unique message ids, so deduplication never short-cuts the work.
Besides throughput and latency it prints the CPU each request cost in the app's processes
and in the PostgreSQL backends serving them.
"""

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine  # noqa: E402

from bench.common import (  # noqa: E402
    ROOT, TOKEN, children, database, gunicorn, measured_run, peak_rss_mb,
)
from receiver.config import normalize_database_url  # noqa: E402

LUA = r"""
local template = [==[__BODY__]==]
local counter = 0
local prefix = ""
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  -- Unique per thread and per run, so no two requests ever carry the same message id.
  math.randomseed(os.time() * 100 + tid)
  prefix = tid .. "-" .. math.random(1, 2^30)
end
function request()
  counter = counter + 1
  local body = template:gsub("__MID__", prefix .. "-" .. counter):gsub("__RID__", "room" .. (counter % 500))
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
    ["X-RocketChat-Livechat-Token"] = "__TOKEN__"}, body)
end
"""


def wrk_script(folder: str) -> str:
    body = json.loads((ROOT / "receiver" / "samples" / "e-message-visitor.json").read_text())
    body["_id"] = "__RID__"
    body["messages"][0]["_id"] = "__MID__"
    body["messages"][0]["rid"] = "__RID__"
    script = LUA.replace("__BODY__", json.dumps(body)).replace("__TOKEN__", TOKEN)
    path = Path(folder) / "message.lua"
    path.write_text(script)
    return str(path)


def create_bare_table(url: str) -> None:
    """The table bench/bare_commit_app.py writes to."""
    engine = create_engine(normalize_database_url(url))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE bare_bodies (id TEXT PRIMARY KEY, raw TEXT NOT NULL)")
    engine.dispose()


def measure(kind: str, args, script: str) -> dict:
    apps = {"bare": "bench.bare_app:app", "bare+commit": "bench.bare_commit_app:app",
            "schema+commit": "bench.schema_commit_app:app", "receiver": "wsgi:app"}
    results = {name: [] for name in apps}
    memory = dict.fromkeys(apps, 0.0)
    with database(kind) as url:
        env = {"ROCKETCHAT_LIVECHAT_TOKEN": TOKEN, "DATABASE_URL": url, "RECEIVER_ADAPTERS": "log"}
        create_bare_table(url)
        for _ in range(args.rounds):
            for name, app in apps.items():
                with gunicorn(app, env, args.workers) as (target, master):
                    results[name].append(measured_run(target, master, url, script,
                                                      args.seconds, args.connections))
                    memory[name] = max([memory[name]] +
                                       [peak_rss_mb(p) for p in children(master)])
    summary = {}
    for name, runs in results.items():
        summary[name] = {key: statistics.median(run[key] for run in runs)
                         for key in ("rps", "p50", "p90", "p99", "errors", "web_us", "db_us")}
        summary[name]["rss_mb"] = memory[name]
    # Ratios pair the runs of one round, seconds apart, so a machine that speeds up or slows
    # down between rounds moves both sides of each ratio alike.
    ratios = {floor: [mine["rps"] / theirs["rps"]
                      for mine, theirs in zip(results["receiver"], results[floor])]
              for floor in ("bare", "bare+commit")}
    # The most any receiver that validates each body could reach against the floor.
    ratios["ceiling"] = [mine["rps"] / theirs["rps"]
                         for mine, theirs in zip(results["schema+commit"], results["bare+commit"])]
    return summary, ratios


def ratio_text(values: list[float]) -> str:
    """The median of per-round ratios, with their range when there are several."""
    median = f"{statistics.median(values):.2f}"
    return median if len(values) == 1 else f"{median} ({min(values):.2f} to {max(values):.2f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers for every app")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        script = wrk_script(folder)
        print(f"wrk -c{args.connections} for {args.seconds} s, median of {args.rounds} alternating "
              f"rounds, gunicorn --workers {args.workers} (gunicorn.conf.py's worker class) for "
              "every app; ratios are medians of each round's own")
        print(f"{'database':<11}{'app':<15}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
              f"{'non-2xx':>9}{'peak RSS MB':>13}{'web us/req':>12}{'db us/req':>11}")
        for kind in args.databases.split(","):
            summary, ratios = measure(kind, args, script)
            for name, row in summary.items():
                print(f"{kind:<11}{name:<15}{row['rps']:>9.0f}{row['p50']:>9.2f}{row['p90']:>9.2f}"
                      f"{row['p99']:>9.2f}{row['errors']:>9.0f}{row['rss_mb']:>13.1f}"
                      f"{row['web_us']:>12.0f}{row['db_us']:>11.0f}")
            print(f"{kind:<11}ratio receiver/bare: {ratio_text(ratios['bare'])}, "
                  f"receiver/bare+commit: {ratio_text(ratios['bare+commit'])}, "
                  f"schema+commit/bare+commit: {ratio_text(ratios['ceiling'])}", flush=True)


if __name__ == "__main__":
    main()
