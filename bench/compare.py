"""Old code against new: the receiver from two source trees, run alternately under the same load.

    git worktree add /tmp/old REV
    python bench/compare.py /tmp/old [--new .] [--databases sqlite,postgresql] [--rounds 6]

For judging a change on a machine whose speed drifts by more than the change: each round
runs both trees seconds apart, in alternating order, and the verdict is the median of the
rounds' own new/old ratios of throughput and of CPU per request. Both trees must share the
database schema, which the new tree's migrations create.
"""

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, TOKEN, database, gunicorn, measured_run  # noqa: E402
from bench.ingest import ratio_text, wrk_script  # noqa: E402


def compare(kind: str, trees: dict[str, Path], args, script: str) -> dict[str, list[dict]]:
    """Each tree's runs, round by round."""
    runs = {name: [] for name in trees}
    with database(kind) as url:
        env = {"ROCKETCHAT_LIVECHAT_TOKEN": TOKEN, "DATABASE_URL": url, "RECEIVER_ADAPTERS": "log"}
        for round_ in range(args.rounds):
            # Alternate which goes first, so neither always meets the warmer machine.
            order = list(trees.items()) if round_ % 2 == 0 else list(reversed(trees.items()))
            for name, root in order:
                with gunicorn("wsgi:app", env, args.workers, root=root) as (target, master):
                    runs[name].append(measured_run(target, master, url, script,
                                                   args.seconds, args.connections))
            old, new = runs["old"][-1], runs["new"][-1]
            print(f"{kind:<11}round {round_ + 1}: old {old['rps']:6.0f} req/s "
                  f"{old['web_us']:6.0f} us/req  new {new['rps']:6.0f} req/s "
                  f"{new['web_us']:6.0f} us/req", flush=True)
    return runs


def median_ratio(runs: dict[str, list[dict]], key: str) -> str:
    ratios = [new[key] / old[key] for old, new in zip(runs["old"], runs["new"]) if old[key]]
    return ratio_text(ratios) if ratios else "-"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="the source tree of the old code")
    parser.add_argument("--new", type=Path, default=ROOT, help="the new code's tree (this one)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    with tempfile.TemporaryDirectory() as folder:
        script = wrk_script(folder)
        print(f"receiver from {trees['old']} (old) and {trees['new']} (new), wrk -c"
              f"{args.connections} for {args.seconds} s, {args.rounds} rounds")
        for kind in args.databases.split(","):
            runs = compare(kind, trees, args, script)
            print(f"{kind:<11}new/old, median of rounds: req/s {median_ratio(runs, 'rps')}, "
                  f"web CPU per request {median_ratio(runs, 'web_us')}, "
                  f"database CPU per request {median_ratio(runs, 'db_us')}", flush=True)


if __name__ == "__main__":
    main()
