"""Console benchmark: each page's time with a million events stored, against /healthz.

    python bench/console.py [--databases sqlite,postgresql] [--events 1000000] [--repeat 7]

Fills a migrated database in bulk with SQL (ten events per conversation over 60 days,
each delivered to two adapters with one attempt; some pending, some dead, a few
quarantined), then times each page through Flask's test client, signed in: the median
of `repeat` requests after one warm-up, and its ratio to /healthz, which touches neither
the database nor a template, measured in the same run.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import TOKEN, database  # noqa: E402
from receiver import create_app  # noqa: E402
from receiver.config import normalize_database_url  # noqa: E402
from receiver.state import current  # noqa: E402

PASSWORD = "bench"
ADAPTERS = ("log", "jsonl")
PER_ROOM = 10
DAYS = 60
# Every this many deliveries, one is dead; the newest this many are pending.
DEAD_EVERY, PENDING = 997, 2000

# One statement per table, run by the database itself: {n} is a row number from 1.
# SQLite counts with a recursive CTE, PostgreSQL with generate_series.
ROWS = {
    "sqlite": "WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers "
              "WHERE n < :count) ",
    "postgresql": "WITH numbers(n) AS (SELECT generate_series(1, :count)) ",
}
TIME = {
    "sqlite": "strftime('%Y-%m-%d %H:%M:%f', 'now', '-{days} days', "
              "'+' || ({n} * {seconds}) || ' seconds')",
    "postgresql": "(now() - interval '{days} days' + ({n} * {seconds}) * interval '1 second')",
}
JSON = {"sqlite": ("json_object", "json_array"),
        "postgresql": ("json_build_object", "json_build_array")}
KIND = ("CASE WHEN n % 10 = 1 THEN 'chat.started' WHEN n % 10 = 0 THEN 'chat.closed' "
        "WHEN n % 2 = 0 THEN 'message.visitor' ELSE 'message.agent' END")


def fill_events(conn, dialect: str, count: int) -> None:
    obj, arr = JSON[dialect]
    seconds = DAYS * 86400 / count
    received = TIME[dialect].format(days=DAYS, n="n", seconds=seconds)
    room = f"'room' || ((n - 1) / {PER_ROOM})"
    visitor = f"((n - 1) / {PER_ROOM})"
    payload = (
        f"{obj}('id', 'evt_' || n, 'kind', {KIND}, 'conversation', {obj}('id', {room}), "
        f"'contact', {obj}('name', 'Visitor ' || {visitor}, 'token', 'tok' || {visitor}, "
        f"'emails', {arr}('v' || {visitor} || '@example.com'), "
        f"'phones', {arr}('+1555' || {visitor})), "
        f"'messages', {arr}({obj}('id', 'm' || n, 'role', 'visitor', 'text', "
        f"'Hello, I need help with my order number ' || n)))"
    )
    test = "false" if dialect == "postgresql" else "0"
    conn.execute(text(
        ROWS[dialect] +
        "INSERT INTO events (seq, id, dedup_key, kind, source_type, conversation_id, test, "
        "occurred_at, received_at, payload, raw) "
        f"SELECT n, 'evt_' || n, 'key' || n, {KIND}, 'Message', {room}, {test}, "
        f"{received}, {received}, CAST({payload} AS TEXT), NULL FROM numbers"
    ), {"count": count})


def fill_deliveries(conn, dialect: str, count: int) -> None:
    seconds = DAYS * 86400 / count
    for index, adapter in enumerate(ADAPTERS):
        at = TIME[dialect].format(days=DAYS, n="n", seconds=seconds)
        state = (f"CASE WHEN n > {count - PENDING} THEN 'pending' "
                 f"WHEN n % {DEAD_EVERY} = 0 THEN 'dead' ELSE 'delivered' END")
        conn.execute(text(
            ROWS[dialect] +
            "INSERT INTO deliveries (id, event_seq, adapter, conversation_id, state, attempts, "
            "due_at, retries_since, last_error, last_attempt_at, finished_at, created_at) "
            f"SELECT n + {index * count}, n, '{adapter}', 'room' || ((n - 1) / {PER_ROOM}), "
            f"{state}, CASE WHEN n > {count - PENDING} THEN 0 ELSE 1 END, {at}, {at}, "
            f"CASE WHEN n % {DEAD_EVERY} = 0 THEN 'HTTP 400: refused' END, {at}, "
            f"CASE WHEN n > {count - PENDING} THEN NULL ELSE {at} END, {at} FROM numbers"
        ), {"count": count})
        conn.execute(text(
            ROWS[dialect] +
            "INSERT INTO delivery_attempts (delivery_id, attempt, attempted_at, outcome, error) "
            f"SELECT n + {index * count}, 1, {at}, CASE WHEN n % {DEAD_EVERY} = 0 THEN 'failed' "
            "ELSE 'delivered' END, NULL FROM numbers "
            f"WHERE n <= {count - PENDING}"
        ), {"count": count})


def fill_quarantine(conn, held: int = 20) -> None:
    for n in range(held):
        conn.execute(text(
            "INSERT INTO quarantine (digest, source_type, errors, raw, state, times_received, "
            "received_at, last_received_at) VALUES (:digest, 'Message', "
            "'{\"messages\": [\"Missing data for required field.\"]}', :raw, 'held', 1, "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
            {"digest": f"{n:064d}", "raw": b'{"type": "Message"}'})


def fill(url: str, count: int) -> float:
    """Store `count` events and their deliveries; the seconds it took."""
    from receiver.store.db import make_engine

    engine = make_engine(normalize_database_url(url), timeout_seconds=600)
    dialect = engine.dialect.name
    started = time.monotonic()
    with engine.begin() as conn:
        if dialect == "postgresql":
            conn.execute(text("SET LOCAL statement_timeout = 0"))
        fill_events(conn, dialect, count)
        fill_deliveries(conn, dialect, count)
        fill_quarantine(conn)
    # Statistics, as autovacuum or a periodic ANALYZE would have them in production.
    if dialect == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("SET statement_timeout = 0"))
            conn.execute(text("VACUUM ANALYZE"))
            conn.execute(text("SELECT setval('deliveries_id_seq', (SELECT max(id) FROM deliveries))"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    engine.dispose()
    return time.monotonic() - started


def pages(count: int) -> dict[str, str]:
    """Each page to time, by label; rooms, events and visitors from the middle of the data."""
    middle = count // 2
    room = (middle - 1) // PER_ROOM
    return {
        "/healthz (baseline)": "/healthz",
        "Overview": "/console/",
        "Conversations": "/console/conversations",
        "Search: room id": f"/console/conversations?q=room{room}",
        "Search: name": f"/console/conversations?q=visitor+{room}",
        "Search: email": f"/console/conversations?q=v{room}%40example.com",
        "Search: phone": f"/console/conversations?q=%2B1555{room}",
        "Search: token": f"/console/conversations?q=tok{room}",
        "Search: no match": "/console/conversations?q=nobody",
        "Conversation": f"/console/conversations/room{room}",
        "Events": "/console/events",
        "Events: Older (middle)": f"/console/events?before={middle}",
        "Events: Newer (middle)": f"/console/events?after={middle}",
        "Events: Kind, Older (middle)": f"/console/events?kind=chat.closed&before={middle}",
        "Event": f"/console/events/evt_{middle}",
        "Dead letters": "/console/dead-letters",
        "Quarantine": "/console/quarantine",
        "Adapters": "/console/adapters",
    }


def signed_in(app):
    import re

    client = app.test_client()
    form = client.get("/console/sign-in").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    assert client.post("/console/sign-in",
                       data={"password": PASSWORD, "csrf_token": token}).status_code == 302
    return client


def time_pages(url: str, count: int, repeat: int, folder: str) -> list[tuple[str, float, int]]:
    app = create_app({"ROCKETCHAT_LIVECHAT_TOKEN": TOKEN, "DATABASE_URL": url,
                      "RECEIVER_ADAPTERS": ",".join(ADAPTERS),
                      "RECEIVER_JSONL_PATH": f"{folder}/events.jsonl",
                      "RECEIVER_CONSOLE_PASSWORD": PASSWORD})
    client = signed_in(app)
    rows = []
    for label, path in pages(count).items():
        answer = client.get(path)  # warm-up: connections, template compilation, caches
        assert answer.status_code == 200, (path, answer.status_code)
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - started) * 1000)
        rows.append((label, statistics.median(times), len(answer.data)))
    current(app).engine.dispose()
    return rows


def main() -> None:
    import logging
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    options = parser.parse_args()
    logging.getLogger("receiver").disabled = True  # one line per sign-in is not the point
    for kind in options.databases.split(","):
        with database(kind) as url, tempfile.TemporaryDirectory() as folder:
            url = normalize_database_url(url)
            seconds = fill(url, options.events)
            print(f"\n{kind}: {options.events:,} events, {len(ADAPTERS)} adapters, "
                  f"filled in {seconds:.0f} s; median of {options.repeat} requests")
            rows = time_pages(url, options.events, options.repeat, folder)
            base = rows[0][1]
            print(f"{'page':<30} {'ms':>8} {'× baseline':>11} {'bytes':>8}")
            for label, millis, size in rows:
                print(f"{label:<30} {millis:8.1f} {millis / base:11.1f} {size:8}")


if __name__ == "__main__":
    main()
