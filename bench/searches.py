"""What saved searches cost per data release: requests and bytes for 100 searches.

Run from the checkout: `python bench/searches.py [--trials 5000] [--json]`.

The replay registry serves the recorded trials plus synthetic clones of them (under new NCT IDs,
first posted years ago), so broad searches ("cancer") need more than one page of 1000. 100
searches are saved: 20 conditions, each plain, recruiting only, phase 2 or 3, within 500 mi of
Boston, and recruiting within 100 mi of New York. Each release is what `check_now` does after
its `/version` (`watcher.service.searches.run_searches` with the real client over HTTP on
127.0.0.1); requests and body bytes come from the replay server's log:

- first run: every search records its baseline (IDs only, nobody told);
- the same release again: nothing to do beyond `/version`;
- a new release with no new trial;
- a new release with 10 new trials, 4 of them melanoma trials with a Boston site.

The baseline, measured in the same run on the same registry, is the obvious way: re-run each
whole search every release with the fields a notice needs and compare with what was stored.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from watcher.config import load_settings  # noqa: E402 - after the checkout is on the path
from watcher.core.distance import Radius  # noqa: E402
from watcher.core.places import Near  # noqa: E402
from watcher.core.search import NOTICE_FIELDS, new_search, query_params  # noqa: E402
from watcher.registry.client import RegistryClient  # noqa: E402
from watcher.registry.replay import ReplayRegistry, load_records, with_nct_id  # noqa: E402
from watcher.registry.replay_server import ReplayServer  # noqa: E402
from watcher.service.searches import run_searches  # noqa: E402
from watcher.store.database import Store  # noqa: E402

CONDITIONS = (
    "melanoma",
    "lung cancer",
    "breast cancer",
    "asthma",
    "neuroblastoma",
    "solid tumors",
    "small cell lung cancer",
    "gastric cancer",
    "medulloblastoma",
    "glioblastoma",
    "sarcoma",
    "ovarian cancer",
    "endometrial cancer",
    "biliary tract cancer",
    "renal cell carcinoma",
    "hepatocellular carcinoma",
    "allergy",
    "leukemia",
    "colorectal cancer",
    "cancer",
)
BOSTON = Near("Boston, Massachusetts, United States", (42.35843, -71.05977), Radius(500, "mi"))
NEW_YORK = Near("New York City, New York, United States", (40.71427, -74.00597), Radius(100, "mi"))


def _corpus(trials: int) -> dict[str, dict[str, Any]]:
    recorded = {n: v[-1] for n, v in load_records(ROOT / "tests" / "fixtures" / "ctgov").items()}
    usable = [r for r in recorded.values() if r.get("protocolSection", {}).get("statusModule")]
    records = dict(recorded)
    for i in range(max(0, trials - len(recorded))):
        nct_id = f"NCT08{i:06d}"
        records[nct_id] = with_nct_id(usable[i % len(usable)], nct_id)
    return records


def _new_trial(source: dict[str, Any], nct_id: str, day: str) -> dict[str, Any]:
    record = copy.deepcopy(with_nct_id(source, nct_id))
    record["protocolSection"]["statusModule"]["studyFirstPostDateStruct"] = {"date": day}
    return record


def _searches() -> list[Any]:
    out = []
    for i, condition in enumerate(CONDITIONS):
        out += [
            new_search(f"s{i}-all", condition=condition),
            new_search(f"s{i}-recruiting", condition=condition, status="recruiting"),
            new_search(f"s{i}-phase", condition=condition, phase="2,3"),
            new_search(f"s{i}-boston", condition=condition, near=BOSTON),
            new_search(f"s{i}-nyc", condition=condition, status="recruiting", near=NEW_YORK),
        ]
    return out


def _measure(server: ReplayServer, work: Any) -> dict[str, float]:
    server.reset_log()
    started = time.perf_counter()
    extra = work()
    seconds = time.perf_counter() - started
    log = server.requests
    return {
        "requests": len(log),
        "kib": round(sum(r.bytes_sent for r in log) / 1024, 1),
        "seconds": round(seconds, 3),
        **(extra or {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5000, help="trials the registry serves")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    corpus = _corpus(args.trials)
    registry = ReplayRegistry(corpus)
    searches = _searches()
    figures: dict[str, dict[str, float]] = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        ReplayServer(registry) as server,
        RegistryClient(
            server.base_url, user_agent="bench", timeout_s=30, requests_per_minute=0
        ) as client,
        Store(Path(tmp) / "bench.db") as store,
    ):
        settings = load_settings(None, env={"STATE_DIRECTORY": tmp})
        now = datetime(2026, 3, 16, tzinfo=UTC)
        for search in searches:
            store.add_search(search, now)
        people = [
            store.subscribe_search(f"p{i}@example.org", s.name, now) for i, s in enumerate(searches)
        ]
        assert len(people) == len(searches)

        def release() -> dict[str, float]:
            outcomes = run_searches(store, client, settings, client.data_timestamp(), now)
            return {
                "searches_run": len(outcomes),
                "new_matches": sum(len(o.new) for o in outcomes if not o.baseline),
                "emails": sum(o.told for o in outcomes),
            }

        def rerun_whole() -> None:
            client.data_timestamp()
            for search in searches:
                for _ in client.search(query_params(search, fields=NOTICE_FIELDS)):
                    pass

        figures["first run (baseline recorded)"] = _measure(server, release)
        figures["same release again"] = _measure(server, release)
        registry.release()
        figures["new release, nothing new"] = _measure(server, release)
        figures["  obvious way: every whole search again"] = _measure(server, rerun_whole)
        day = registry.data_timestamp[:10]
        recorded = [r for n, r in corpus.items() if not n.startswith("NCT08")]
        melanoma_boston = [corpus["NCT02475213"], corpus["NCT05581004"]]
        fresh = [_new_trial(melanoma_boston[i % 2], f"NCT0990000{i}", day) for i in range(4)]
        fresh += [_new_trial(recorded[i * 7], f"NCT0990001{i}", day) for i in range(6)]
        registry.publish(*fresh)
        figures["new release, 10 new trials"] = _measure(server, release)
        figures["  obvious way, same release"] = _measure(server, rerun_whole)

    if args.json:
        print(json.dumps({"searches": len(searches), "trials": len(corpus), "releases": figures}))
        return
    print(f"{len(searches)} saved searches, {len(corpus)} trials in the registry")
    print(f"{'release':45} {'requests':>8} {'KiB':>10} {'seconds':>8}  notes")
    for name, row in figures.items():
        notes = ", ".join(
            f"{k} {int(v)}" for k, v in row.items() if k not in ("requests", "kib", "seconds")
        )
        print(f"{name:45} {int(row['requests']):>8} {row['kib']:>10} {row['seconds']:>8}  {notes}")


if __name__ == "__main__":
    main()
