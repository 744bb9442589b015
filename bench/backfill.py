"""What backfilling many trials' whole histories costs: requests, time, bytes, memory.

Run from the checkout: `python bench/backfill.py [--trials 1000] [--versions 20]`.

The bench process serves `--trials` synthetic trials from the replay registry, each with a
history of `--versions` versions: the newest recorded version of a fixture trial (cycled over
the whole records among the fixtures, `bench/poll.py:templates`), followed by later versions
made from it with the small edits real versions show (`bench/storage.py:synthetic_chain`: a site
status flips, a site is added, the enrollment or a date moves, the sites come back reordered,
new stamps each time), cloned under new NCT IDs. The API v2 serves each trial's newest version.

Then the real command line, each command its own process (`bench/poll.py:child`, which reads
its wall time, CPU time and peak RSS): `watch add --file` for all the trials, then
`backfill --json`, unthrottled (`requests_per_minute = 0`). Printed:

- requests (from the replay server's log), against the expected one index request plus one per
  version; the wall time they would take at the default politeness limit
  (`[registry].requests_per_minute`, derived: requests / rate) and the measured unthrottled wall
  time, start-up included;
- bytes stored per backfilled version (the `raw` column: keyframe or delta), median and mean,
  beside the 177 B median a polled version costs today (`python bench/storage.py`);
- the backfill process's peak RSS.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sqlite3
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from poll import POLITE_RPM, child, synthetic_id, templates  # noqa: E402
from storage import synthetic_chain  # noqa: E402

from watcher.registry.replay import ReplayRegistry, with_nct_id  # noqa: E402
from watcher.registry.replay_server import ReplayServer  # noqa: E402

Raw = dict[str, Any]
POLLED_MEDIAN_B = 177  # bytes per new polled version today (`python bench/storage.py`)


def chains(trials: int, versions: int) -> list[list[Raw]]:
    """`trials` synthetic histories of `versions` versions each, under synthetic NCT IDs."""
    rng = random.Random(20261130)  # fixed: every run measures the same histories
    made: list[list[Raw]] = []
    with tempfile.TemporaryDirectory() as tmp:
        sources = []
        for n, raw in enumerate(templates()):
            path = Path(tmp) / f"{n}.json"
            path.write_text(json.dumps(raw), encoding="utf-8")
            chain = list(synthetic_chain(path, versions, rng))
            if len(chain) == versions:
                sources.append(chain)
    for n, chain in zip(range(trials), itertools.cycle(sources), strict=False):
        made.append([with_nct_id(raw, synthetic_id(n)) for raw in chain])
    return made


def stored_bytes(database: Path) -> list[int]:
    """Bytes of every version the backfill stored."""
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT length(raw) FROM versions WHERE source = 'history'").fetchall()
    return [int(r[0]) for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=20)
    args = parser.parse_args()
    histories = chains(args.trials, args.versions)
    registry = ReplayRegistry()
    for chain in histories:
        registry.publish(chain[-1], release=False)
        registry.record_history(chain)
    with ReplayServer(registry) as server, tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        config = Path(tmp) / "config.toml"
        config.write_text(
            f'[registry]\nbase_url = "{server.base_url}"\nhistory_url = "{server.history_url}"\n'
            "requests_per_minute = 0\n",
            encoding="utf-8",
        )
        ids = Path(tmp) / "ids.txt"
        ids.write_text("\n".join(synthetic_id(n) for n in range(args.trials)), encoding="utf-8")
        command = [sys.executable, "-m", "watcher", "--config", str(config)]
        child([*command, "watch", "add", "--file", str(ids), "--json"], state)
        server.reset_log()
        out, usage = child([*command, "backfill", "--json"], state)
        requests = len(server.requests)
        summary = json.loads(out)
        sizes = stored_bytes(state / "trialwatch.db")
    expected = args.trials * (1 + args.versions)
    print(f"backfill of {args.trials} trials x {args.versions} versions (python bench/backfill.py)")
    print(
        f"  summary: fetched {summary['fetched']}, stored {summary['stored']}, "
        f"skipped {summary['skipped']}, failed {summary['failed']}"
    )
    print(f"  requests: {requests} (one index + one per version: {expected})")
    print(
        f"  wall time at the default {POLITE_RPM} requests/minute (derived): "
        f"{requests / POLITE_RPM / 60:.1f} h ({requests / POLITE_RPM / args.trials:.2f} min "
        "per trial)"
    )
    print(
        f"  wall time unthrottled (measured, start-up included): {usage.wall_s:.1f} s "
        f"({usage.wall_s / max(1, requests) * 1000:.2f} ms per request), CPU {usage.cpu_s:.1f} s"
    )
    print(
        f"  bytes stored per backfilled version: median {statistics.median(sizes):.0f} B, "
        f"mean {statistics.mean(sizes):.0f} B over {len(sizes)} versions "
        f"(a polled version today: {POLLED_MEDIAN_B} B median)"
    )
    print(f"  peak RSS of the backfill process: {usage.rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
