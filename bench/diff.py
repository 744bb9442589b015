"""How fast trialwatch parses and diffs real version pairs, against a naive DeepDiff.

Run from the checkout: `python bench/diff.py [--repeat N]`. It measures every pair of
consecutive recorded versions of one trial from one source (the pairs `tests/test_diff.py`
checks): trialwatch's parse of both versions plus `diff_trials`, and, in the same run,
`DeepDiff(old_raw, new_raw)` with default settings (what a generic page watcher would do).
JSON loading is outside both timings. Each pair is timed `--repeat` times and its median kept;
the table reports pairs per second over the whole set, the median and the worst pair, and how
many items each approach reports (the naive count is mostly noise: reordered sites, renumbered
MeSH leaves, update stamps).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deepdiff import DeepDiff

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import consecutive_versions  # noqa: E402  (needs the paths above)

from watcher.core.diff import diff_trials  # noqa: E402
from watcher.core.record import parse_trial  # noqa: E402

Raw = dict[str, Any]


def version_pairs() -> list[tuple[str, Raw, Raw]]:
    """The pairs the diff tests check, loaded: (name, older raw, newer raw)."""
    return [
        (
            f"{old.name[:11]} {old.name.split('__')[2]}→{new.name.split('__')[2]}",
            json.loads(old.read_text(encoding="utf-8")),
            json.loads(new.read_text(encoding="utf-8")),
        )
        for old, new in consecutive_versions()
    ]


def trialwatch(old: Raw, new: Raw) -> int:
    return len(diff_trials(parse_trial(old), parse_trial(new)))


def naive(old: Raw, new: Raw) -> int:
    return sum(len(entries) for entries in DeepDiff(old, new).values())


def measure(
    pairs: list[tuple[str, Raw, Raw]], run: Callable[[Raw, Raw], int], repeat: int
) -> tuple[list[float], int]:
    """Median seconds per pair over `repeat` runs, and the items reported in total."""
    medians, reported = [], 0
    for _, old, new in pairs:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            count = run(old, new)
            times.append(time.perf_counter() - start)
        medians.append(statistics.median(times))
        reported += count
    return medians, reported


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timings per pair (median kept)")
    args = parser.parse_args()
    pairs = version_pairs()
    ours, our_items = measure(pairs, trialwatch, args.repeat)
    theirs, their_items = measure(pairs, naive, args.repeat)
    worst = max(range(len(pairs)), key=ours.__getitem__)
    worst_naive = max(range(len(pairs)), key=theirs.__getitem__)

    def row(name: str, mine: str, base: str, ratio: str) -> str:
        return f"{name:<26}{mine:>14}{base:>18}{ratio:>10}"

    print(f"{len(pairs)} version pairs, median of {args.repeat} runs per pair\n")
    print(row("", "trialwatch", "naive DeepDiff", "ratio"))
    print(
        row(
            "pairs per second",
            f"{len(pairs) / sum(ours):,.0f}",
            f"{len(pairs) / sum(theirs):,.1f}",
            f"{sum(theirs) / sum(ours):,.1f}x",
        )
    )
    for name, pick in (("median per pair (ms)", statistics.median), ("worst pair (ms)", max)):
        mine, base = pick(ours) * 1000, pick(theirs) * 1000
        print(row(name, f"{mine:,.2f}", f"{base:,.1f}", f"{base / mine:,.1f}x"))
    print(row("items reported", f"{our_items:,}", f"{their_items:,}", ""))
    print(f"\nworst pair for trialwatch: {pairs[worst][0]}")
    print(f"worst pair for DeepDiff:   {pairs[worst_naive][0]}")


if __name__ == "__main__":
    main()
