"""Drain benchmark: `receiver worker` processes emptying a backlog of chats into CRM fakes
that enforce the vendors' limits, with time scaled down.

    python bench/drain.py [--before /work/main] [--crms hubspot,zoho] [--workers 2,4]
                          [--per-window 100,10]

A backlog of 150 complete conversations (start, three messages, close; 60 % from returning
visitors) is drained by real worker processes into the HubSpot fake enforcing `--per-window`
calls per window and 4 searches per tenth of it, and into the Zoho fake with a concurrency
cap. The window is `--window` seconds: 2.5 by default, HubSpot's 10 s scaled by four. Each
run prints the calls per closed chat, the 429s, the drain time (first CRM call to last)
against the least the limit allows for that many calls, notes found once per chat, and
records per person. `--before` drains the same backlog with another tree's workers, for
comparison.

The workers are started, and have said they are delivering, before the backlog falls due:
the drain is timed as running workers empty it, without their start-up (importing, a
second or two of CPU each on a small machine) taking turns with it.

Batched, the default backlog takes so few calls (about 0.1 per chat) that they fit in one
window, and the least the limit allows is no floor: the drain is bound by the workers'
own speed. HubSpot is therefore drained again under 10 calls per window, where the limit
binds and the ratio says how near the drain comes to it.
"""

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chats import fill  # noqa: E402
from bench.common import ROOT, TOKEN, database  # noqa: E402
from receiver.store import schema  # noqa: E402
from receiver.store.db import make_engine  # noqa: E402
from receiver.store.tables import DELIVERED, PENDING, deliveries  # noqa: E402
from tests.fakes import hubspot as fake_hubspot  # noqa: E402
from tests.fakes import zoho as fake_zoho  # noqa: E402

HELD_SECONDS = 3600  # the backlog is not due while the workers start
SEARCHES = 4  # per tenth of a window: HubSpot's four a second against its 10 s window


def hubspot_crm(window: float, per_window: int):
    """The HubSpot fake and the workers' settings for it, at `per_window` calls per `window`."""
    fake = fake_hubspot.FakeHubSpot(per_window=per_window, window=window, searches=SEARCHES,
                                    search_window=window / 10, search_lag=0.3 * window)
    env = {"RECEIVER_HUBSPOT_TOKEN": fake_hubspot.TOKEN, "RECEIVER_HUBSPOT_API_URL": fake.url,
           "RECEIVER_HUBSPOT_RATE_LIMIT": f"{per_window}/{window:g}",
           "RECEIVER_HUBSPOT_SEARCH_RATE_LIMIT": f"{SEARCHES}/{window / 10:g}",
           "RECEIVER_HUBSPOT_SEARCH_LAG_SECONDS": f"{6 * window:g}"}
    return fake, env


def zoho_crm(window: float, cap: int):
    """The Zoho fake with a concurrency cap, and the workers' settings for it."""
    fake = fake_zoho.FakeZoho(concurrency=cap, search_lag=0.3 * window)
    env = {"RECEIVER_ZOHO_CLIENT_ID": fake_zoho.CLIENT_ID,
           "RECEIVER_ZOHO_CLIENT_SECRET": fake_zoho.CLIENT_SECRET,
           "RECEIVER_ZOHO_REFRESH_TOKEN": fake_zoho.REFRESH_TOKEN,
           "RECEIVER_ZOHO_ACCOUNTS_URL": fake.url,
           "RECEIVER_ZOHO_SEARCH_LAG_SECONDS": f"{6 * window:g}"}
    return fake, env


def minimum_seconds(crm: str, fake, window: float, per_window: int) -> float | None:
    """The least time the limit allows for the calls the fake received; None without a rate."""
    if crm != "hubspot":
        return None
    searches = sum(1 for _, path in fake.requests if path.endswith("/search"))
    return max(fake.traffic.calls / per_window * window, searches / SEARCHES * window / 10)


def notes_and_records(crm: str, fake, chats: int, people: list[dict]) -> tuple[int, list[int]]:
    """How many chats have exactly one note, and how many records each person has."""
    if crm == "hubspot":
        notes = [note["properties"].get("hs_note_body", "") for note in fake.notes.values()]
        records = [(fields.get("email") or "", fields.get("rocketchat_visitor_token"))
                   for fields in fake.contacts.values()]
    else:
        notes = [note.get("Note_Content", "") for note in fake.notes.values()]
        records = [(fields.get("Email") or "", None)
                   for fields in fake.records["Contacts"].values()]
    once = sum(sum(f"[conversation chat-{chat}]" in note for note in notes) == 1
               for chat in range(chats))
    per_person = [sum(email.lower() == who["email"] or token == who["token"]
                      for email, token in records) for who in people]
    return once, per_person


def unfinished(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).where(deliveries.c.state == PENDING)).scalar_one()


def delivered(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).where(
            deliveries.c.state == DELIVERED)).scalar_one()


def due(engine, seconds: float) -> None:
    """Make every pending delivery due `seconds` from now (the backlog's were due at once)."""
    with engine.begin() as conn:
        conn.execute(update(deliveries).where(deliveries.c.state == PENDING)
                     .values(due_at=datetime.now(timezone.utc) + timedelta(seconds=seconds)))


def started(log: Path, processes: int) -> bool:
    """Whether each worker has said it is delivering."""
    return log.read_text(errors="replace").count("delivering to") >= processes


def drain(engine, env: dict, processes: int, root: Path, timeout: float) -> bool:
    """Run `processes` workers of the tree at `root`, let the backlog fall due once they all
    run, and wait until no delivery is pending."""
    log = tempfile.NamedTemporaryFile(prefix="drain-", suffix=".log", delete=False)
    due(engine, HELD_SECONDS)
    # INFO, the default, for the line each worker logs when it starts delivering.
    workers = [subprocess.Popen([sys.executable, "-m", "receiver", "worker"], cwd=root,
                                env={**os.environ, **env, "RECEIVER_LOG_LEVEL": "INFO"},
                                stdout=log, stderr=log) for _ in range(processes)]
    ends = time.monotonic() + timeout
    try:
        while not started(Path(log.name), processes) and time.monotonic() < ends:
            time.sleep(0.1)
        due(engine, 0)
        while unfinished(engine) and time.monotonic() < ends:
            time.sleep(0.25)
        return not unfinished(engine)
    finally:
        for process in workers:
            process.terminate()
        for process in workers:
            process.wait(30)


def head_of(root: Path) -> str:
    """The newest schema revision the tree at `root` knows."""
    return subprocess.run([sys.executable, "-c", "from receiver.store.schema import "
                           "head_revision; print(head_revision())"], cwd=root, check=True,
                          capture_output=True, text=True).stdout.strip()


def run(kind: str, crm: str, processes: int, root: Path, per_window: int, args) -> dict:
    """One drain of a fresh backlog into a fresh fake; its figures."""
    with database(kind) as url:
        engine = make_engine(url)
        if head_of(root) != schema.head_revision():
            schema.downgrade(engine, head_of(root))  # the schema that tree's workers expect
        people = fill(engine, args.chats, args.returning, crm)
        fake, crm_env = hubspot_crm(args.window, per_window) if crm == "hubspot" else \
            zoho_crm(args.window, args.zoho_cap)
        with fake:
            env = {"ROCKETCHAT_LIVECHAT_TOKEN": TOKEN, "DATABASE_URL": url,
                   "RECEIVER_ADAPTERS": crm, **crm_env}
            finished = drain(engine, env, processes, root, args.timeout)
            arrivals = fake.traffic.arrivals
            seconds = arrivals[-1] - arrivals[0] if arrivals else 0.0
            once, per_person = notes_and_records(crm, fake, args.chats, people)
            figures = {"calls": fake.traffic.calls, "throttled": fake.traffic.throttled,
                       "seconds": seconds, "minimum": minimum_seconds(crm, fake, args.window, per_window),
                       "once": once, "per_person": per_person, "finished": finished,
                       "delivered": delivered(engine),
                       "in_flight": fake.traffic.max_in_flight}
        engine.dispose()
    return figures


def row(label: str, crm: str, processes: int, chats: int, figures: dict, limit: str) -> str:
    calls, throttled = figures["calls"], figures["throttled"]
    minimum = figures["minimum"]
    ratio = f"{figures['seconds'] / minimum:.2f}" if minimum else "-"
    least = f"{minimum:.1f}" if minimum else "-"
    people = figures["per_person"]
    return (f"{label:<8}{crm:<9}{limit:>7}{processes:>3}{calls / chats:>11.2f}{throttled:>7}"
            f"{100 * throttled / max(calls, 1):>7.1f}%{figures['seconds']:>9.1f}{least:>9}"
            f"{ratio:>7}{figures['once']:>8}/{chats:<5}{max(people):>5}{min(people):>5}"
            f"{figures['in_flight']:>5}{'' if figures['finished'] else '  (unfinished)'}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="postgresql")
    parser.add_argument("--crms", default="hubspot,zoho")
    parser.add_argument("--workers", default="2,4")
    parser.add_argument("--chats", type=int, default=150)
    parser.add_argument("--returning", type=float, default=0.6)
    parser.add_argument("--per-window", default="100,10",
                        help="HubSpot calls per window: the private app's 100, then one that binds")
    parser.add_argument("--window", type=float, default=2.5,
                        help="seconds standing in for HubSpot's 10 s window")
    parser.add_argument("--zoho-cap", type=int, default=5, help="Zoho's concurrency cap")
    parser.add_argument("--before", type=Path, help="another tree whose workers drain first")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the fakes' access logs
    trees = ([("before", args.before.resolve())] if args.before else []) + [("this", ROOT)]
    limits = [int(n) for n in args.per_window.split(",")]
    print(f"{args.chats} chats ({args.returning:.0%} returning visitors), {args.database}; "
          f"HubSpot {' or '.join(map(str, limits))} calls (limit) per {args.window:g} s and "
          f"{SEARCHES} searches per {args.window / 10:g} s; Zoho at most {args.zoho_cap} "
          f"calls at once")
    print(f"{'tree':<8}{'crm':<9}{'limit':>7}{'wk':>3}{'calls/chat':>11}{'429s':>7}{'429 %':>8}"
          f"{'drain s':>9}{'least s':>9}{'ratio':>7}{'notes once':>14}{'rec max':>8}"
          f"{'min':>5}{'conc':>5}")
    for crm in args.crms.split(","):
        for per_window in limits if crm == "hubspot" else [None]:
            for label, root in trees:
                for processes in (int(n) for n in args.workers.split(",")):
                    figures = run(args.database, crm, processes, root, per_window, args)
                    print(row(label, crm, processes, args.chats, figures,
                              str(per_window or "-")), flush=True)


if __name__ == "__main__":
    main()
