"""How many bytes a stored version costs, and how long reading one takes, with `watcher.core.codec`.

Run from the checkout: `python bench/storage.py [--repeat N] [--versions N]`. Two sets of version
chains are stored the way the store does it (each new version encoded against the one before,
a keyframe every `KEYFRAME_EVERY` versions, fewer for the largest records):

- fixture chains: every recorded study file, grouped by NCT ID, oldest first (file-name order);
- synthetic chains: for each trial, its newest recorded version followed by `--versions` - 1
  versions made from it with the small edits real versions show (a site status flips, a site is
  added, the enrollment or a date moves, now and then the site list comes back reordered), each
  also moving the registry's stamps (`lastUpdatePostDate`, `versionHolder`).

For every NEW version (not a trial's first) it reports the bytes stored, against two baselines
measured in the same run: the whole record with zlib (what the store wrote before this codec:
compact JSON, level 9) and the raw record; and a zlib preset dictionary (the previous version's
compact JSON as `zdict`) as the alternative codec the issue names. Every version of every chain
is then read back from its keyframe `--repeat` times (the best kept), beside a read of the same
version stored whole, and checked to equal the record it came from, key order included. The
table gives the median over all versions and the worst version.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import statistics
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import version_chains  # noqa: E402  (needs the paths above)

from watcher.core.codec import KEYFRAME_EVERY, decode_chain, encode, is_keyframe  # noqa: E402

Raw = dict[str, Any]
SIZE_TARGET = 1024
READ_TARGET_MS = 10.0


def compact(raw: Raw) -> bytes:
    return json.dumps(raw, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def full_zlib(raw: Raw) -> int:
    """Bytes the store wrote per version before this codec: the whole record, zlib level 9."""
    return len(zlib.compress(compact(raw), 9))


def zdict_zlib(raw: Raw, previous: Raw) -> int:
    """Bytes of the rejected alternative: zlib with the previous version as preset dictionary."""
    packer = zlib.compressobj(9, zdict=compact(previous))
    return len(packer.compress(compact(raw)) + packer.flush())


# -- the chains ---------------------------------------------------------------------------------


def load(path: Path) -> Raw:
    raw: Raw = json.loads(path.read_text(encoding="utf-8"))
    return raw


def fixture_chains(files: dict[str, list[Path]]) -> Iterator[tuple[str, Iterator[Raw]]]:
    """The recorded versions, loaded one at a time (see `measure` for why)."""
    for nct, paths in files.items():
        yield nct, map(load, paths)


def _status(raw: Raw) -> dict[str, Any]:
    status: dict[str, Any] = raw["protocolSection"]["statusModule"]
    return status


def _sites(raw: Raw) -> list[dict[str, Any]]:
    sites: list[dict[str, Any]] = (
        raw["protocolSection"].get("contactsLocationsModule", {}).get("locations", [])
    )
    return sites


def flip_site_status(raw: Raw, rng: random.Random) -> bool:
    sites = [s for s in _sites(raw) if "status" in s]
    if not sites:
        return False
    site = rng.choice(sites)
    site["status"] = rng.choice(
        [s for s in ("RECRUITING", "ACTIVE_NOT_RECRUITING", "COMPLETED") if s != site["status"]]
    )
    return True


def add_site(raw: Raw, rng: random.Random) -> bool:
    sites = _sites(raw)
    if not sites:
        return False
    site = copy.deepcopy(rng.choice(sites))
    site["facility"] = f"Synthetic Cancer Center {rng.randrange(10_000)}"
    site["status"] = "NOT_YET_RECRUITING"
    sites.insert(rng.randrange(len(sites) + 1), site)
    return True


def move_enrollment(raw: Raw, rng: random.Random) -> bool:
    info = raw["protocolSection"].get("designModule", {}).get("enrollmentInfo")
    if not isinstance(info, dict) or "count" not in info:
        return False
    info["count"] += rng.randint(1, 40)
    return True


def move_date(raw: Raw, rng: random.Random) -> bool:
    status = _status(raw)
    keys = [k for k in ("primaryCompletionDateStruct", "completionDateStruct") if k in status]
    if not keys:
        return False
    moved = date(2027, 1, 1) + timedelta(days=rng.randrange(1500))
    status[rng.choice(keys)] = {"date": moved.isoformat(), "type": "ESTIMATED"}
    return True


def reorder_sites(raw: Raw, rng: random.Random) -> bool:
    sites = _sites(raw)
    if len(sites) < 2:
        return False
    rng.shuffle(sites)
    return True


# Weights: reordered site lists happen, but far less often than the rest.
EDITS: list[tuple[Callable[[Raw, random.Random], bool], int]] = [
    (flip_site_status, 3),
    (add_site, 2),
    (move_enrollment, 2),
    (move_date, 2),
    (reorder_sites, 1),
]


def synthetic_chain(path: Path, versions: int, rng: random.Random) -> Iterator[Raw]:
    """The record in `path` and `versions` - 1 later versions, each a realistic edit plus new
    stamps; nothing for a record without a status module (nothing to move)."""
    raw = load(path)
    if not isinstance(raw.get("protocolSection", {}).get("statusModule"), dict):
        return
    yield raw
    for n in range(1, versions):
        raw = copy.deepcopy(raw)
        edits = [edit for edit, weight in EDITS for _ in range(weight)]
        while edits and not edits.pop(rng.randrange(len(edits)))(raw, rng):
            pass
        posted = (date(2026, 3, 16) + timedelta(days=7 * n)).isoformat()
        status = _status(raw)
        status["lastUpdateSubmitDate"] = posted
        status["lastUpdatePostDateStruct"] = {"date": posted, "type": "ACTUAL"}
        misc = raw.get("derivedSection", {}).get("miscInfoModule")
        if isinstance(misc, dict):
            misc["versionHolder"] = posted
        yield raw


def synthetic_chains(
    files: dict[str, list[Path]], versions: int
) -> Iterator[tuple[str, Iterator[Raw]]]:
    """A synthetic chain from the newest recorded version of each trial."""
    rng = random.Random(20260316)  # fixed: every run measures the same chains
    for nct, paths in files.items():
        yield nct, synthetic_chain(paths[-1], versions, rng)


# -- measuring ----------------------------------------------------------------------------------


@dataclass
class Figures:
    """What one set of chains cost."""

    ours: list[int]  # bytes stored per new version
    zlib: list[int]  # whole-record zlib per new version (baseline)
    raw: list[int]  # raw record bytes per new version (baseline)
    zdict: list[int]  # preset-dictionary alternative per new version
    total_ours: int  # every version, keyframes included
    total_zlib: int
    keyframes: int
    reads_ms: list[tuple[float, float, str]]  # every version: codec ms, full zlib ms, which


def read_ms(
    rows: list[tuple[str, bytes]], n: int, written: bytes, repeat: int
) -> tuple[float, float]:
    """Milliseconds to rebuild version `n` from the keyframe at or before it, and to read the
    same version stored whole (the old store: decompress, then `json.loads`), best of `repeat`.

    The best run is the cost of the read itself; slower runs measure whatever else the machine
    was doing (the advice of `timeit`). The two are timed in turn, so both see the same machine.
    """
    start = max(k for k in range(n + 1) if is_keyframe(rows[k][0]))
    whole = zlib.compress(written, 9)
    ours, baseline = [], []
    for _ in range(repeat):
        began = time.perf_counter()
        record = decode_chain(rows[start : n + 1])
        middle = time.perf_counter()
        json.loads(zlib.decompress(whole))
        baseline.append(time.perf_counter() - middle)
        ours.append(middle - began)
        if compact(record) != written:  # same values and the same key order
            raise SystemExit(f"version {n + 1} did not read back as written")
    return min(ours) * 1000, min(baseline) * 1000


def store(versions: Iterable[Raw], figures: Figures) -> tuple[list[tuple[str, bytes]], list[bytes]]:
    """Encode a chain the way the store appends versions; the rows, and each version's JSON."""
    rows: list[tuple[str, bytes]] = []
    written: list[bytes] = []
    previous: Raw | None = None
    deltas = 0
    for raw in versions:
        codec, blob = encode(raw, previous, deltas)
        deltas = 0 if is_keyframe(codec) else deltas + 1
        rows.append((codec, blob))
        written.append(compact(raw))
        whole = full_zlib(raw)
        figures.total_ours += len(blob)
        figures.total_zlib += whole
        figures.keyframes += is_keyframe(codec)
        if previous is not None:
            figures.ours.append(len(blob))
            figures.zlib.append(whole)
            figures.raw.append(len(written[-1]))
            figures.zdict.append(zdict_zlib(raw, previous))
        previous = raw
    return rows, written


def measure(chains: Iterable[tuple[str, Iterable[Raw]]], repeat: int) -> Figures:
    """Store each chain, then read every version of it back.

    Only one chain's rows are alive while reading, and no record: a heap full of records would
    make `json.loads` pay for garbage-collection passes over them, which the daemon, holding a
    few records at most, does not.
    """
    figures = Figures([], [], [], [], 0, 0, 0, [])
    for nct, versions in chains:
        rows, written = store(versions, figures)
        for n, text in enumerate(written):
            ours, baseline = read_ms(rows, n, text, repeat)
            figures.reads_ms.append((ours, baseline, f"{nct} v{n + 1} ({len(text):,} B raw)"))
    return figures


def report(name: str, figures: Figures) -> None:
    med = statistics.median

    def row(label: str, *cells: str) -> str:
        return f"{label:<34}" + "".join(f"{c:>12}" for c in cells)

    print(f"\n{name}: {len(figures.ours)} new versions, {len(figures.reads_ms)} versions in all")
    print(row("bytes per new version", "codec", "full zlib", "raw", "zdict"))
    for label, pick in (("  median", med), ("  max", max)):
        cells = (pick(figures.ours), pick(figures.zlib), pick(figures.raw), pick(figures.zdict))
        print(row(label, *(f"{c:,.0f}" for c in cells)))
    print(
        row(
            "  median, codec smaller by",
            "",
            f"{med(figures.zlib) / med(figures.ours):,.1f}x",
            f"{med(figures.raw) / med(figures.ours):,.1f}x",
            f"{med(figures.zdict) / med(figures.ours):,.1f}x",
        )
    )
    print(
        row(
            "all versions stored (keyframes too)",
            f"{figures.total_ours:,}",
            f"{figures.total_zlib:,}",
            "",
            f"{figures.total_zlib / figures.total_ours:,.1f}x",
        )
    )
    ours, baseline, label = max(figures.reads_ms)
    print(
        f"read a version (ms): median {med([t for t, _, _ in figures.reads_ms]):.3f} "
        f"(full zlib {med([t for _, t, _ in figures.reads_ms]):.3f}); worst {ours:.2f} "
        f"(full zlib {baseline:.2f}): {label}; {figures.keyframes} keyframes"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="reads per version (best kept)")
    parser.add_argument("--versions", type=int, default=20, help="versions per synthetic chain")
    args = parser.parse_args()
    files = version_chains()
    print(f"KEYFRAME_EVERY = {KEYFRAME_EVERY}; read times are the best of {args.repeat} reads")
    results = {
        "fixture chains": measure(fixture_chains(files), args.repeat),
        f"synthetic chains ({args.versions} versions)": measure(
            synthetic_chains(files, args.versions), args.repeat
        ),
    }
    for name, figures in results.items():
        report(name, figures)
    print()
    for name, figures in results.items():
        size = statistics.median(figures.ours)
        worst = max(t for t, _, _ in figures.reads_ms)
        print(
            f"{'PASS' if size <= SIZE_TARGET else 'FAIL'}  {name}: median {size:,.0f} B "
            f"per new version (target <= {SIZE_TARGET:,} B)"
        )
        print(
            f"{'PASS' if worst <= READ_TARGET_MS else 'FAIL'}  {name}: worst read {worst:.2f} ms "
            f"(target <= {READ_TARGET_MS:.0f} ms)"
        )


if __name__ == "__main__":
    main()
