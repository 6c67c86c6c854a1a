"""Prune benchmark: the CRM tables' rows pruned per second, against finished events'.

    python bench/prune.py [--databases sqlite,postgresql] [--events 200000]

Fills a store with `--events` recent events over a tenth as many conversations, as many old
finished events again, old note ids for twice as many conversations (half of them with
events left), and old and recent visitor links; then times `receiver prune`'s parts. The
aim: each CRM table goes at least half as fast per row as the events do (a ratio of 0.5 or
more), whatever is left in the store.
"""

import argparse
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import database  # noqa: E402
from receiver.config import normalize_database_url  # noqa: E402
from receiver.store import crm_notes, identities, retention  # noqa: E402
from receiver.store.db import make_engine  # noqa: E402
from receiver.store.tables import crm_identities, crm_notes as notes_table, events  # noqa: E402
from receiver.store.transactions import transaction  # noqa: E402

NOW = datetime(2025, 2, 15, tzinfo=timezone.utc)
CUTOFF = NOW - timedelta(days=30)
OLD, RECENT = NOW - timedelta(days=40), NOW - timedelta(days=1)


def fill(engine, count: int) -> None:
    """The store described above, written in large batches."""
    rooms = count // 10
    with transaction(engine) as conn:
        for start in range(0, 2 * count, 10_000):
            conn.execute(insert(events), [
                {"id": f"evt_{i}", "dedup_key": f"k{i}", "kind": "message.visitor",
                 "conversation_id": f"room-{i % rooms + (0 if i < count else rooms)}",
                 "test": False,
                 "received_at": RECENT if i < count else OLD, "payload": "{}"}
                for i in range(start, min(start + 10_000, 2 * count))])
        conn.execute(insert(notes_table), [
            {"scope": "hubspot", "updated_at": OLD, "note_id": str(i),
             "marker": crm_notes.digest(crm_notes.conversation_marker(f"room-{i}"))}
            for i in range(2 * rooms)])  # rooms 0 to rooms-1 keep recent events
        conn.execute(insert(crm_identities), [
            {"scope": "hubspot", "identifier": identities.digest("email", f"{i}@example.com"),
             "record_id": str(i), "matched_by": "email", "updated_at": OLD if i % 2 else RECENT}
            for i in range(count)])
    if engine.dialect.name == "postgresql":  # the statistics autovacuum would have gathered
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")


def timed(work) -> tuple[int, float]:
    """How many rows `work` pruned, and the seconds it took."""
    started = time.perf_counter()
    rows = work()
    return rows, time.perf_counter() - started


def run(kind: str, count: int) -> None:
    with database(kind) as url:
        engine = make_engine(normalize_database_url(url))
        fill(engine, count)
        parts = {
            "events": lambda: retention._in_batches(
                engine, lambda conn: retention.prune_events(conn, CUTOFF)),
            "note ids": lambda: retention.prune_notes(engine, CUTOFF, NOW),
            "visitor links": lambda: retention._in_batches(
                engine, lambda conn: identities.prune(conn, CUTOFF, NOW, batch=retention.BATCH)),
        }
        results = {name: timed(work) for name, work in parts.items()}
        engine.dispose()
    events_rate = results["events"][0] / results["events"][1]
    for name, (rows, seconds) in results.items():
        rate = rows / seconds
        print(f"{kind:10} {name:14} {rows:7} rows in {seconds:5.2f} s  {rate:8.0f} rows/s  "
              f"ratio to events {rate / events_rate:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--events", type=int, default=200_000)
    options = parser.parse_args()
    for kind in options.databases.split(","):
        run(kind, options.events)


if __name__ == "__main__":
    main()
