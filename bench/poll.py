"""What one poll cycle costs with many watched trials, against one GET per trial per cycle.

Run from the checkout: `python bench/poll.py [--sizes 1000,10000] [--repeat N]`.

For each N, the bench process serves N synthetic trials from the replay registry (the newest
recorded version of each fixture trial with an update date, cloned under new NCT IDs, sizes
kept; rate limit off) and runs three cycles, each as a separate process so nothing is shared
with the server but the connection:

- cold start: every trial is new;
- a data release where 1 % of the trials changed in ways a user cares about (a status moves, a
  site is added, the enrollment moves; each with a new `LastUpdatePostDate`) and some flipped
  to UNKNOWN with no new update date, while the registry's daily housekeeping moved the
  `versionHolder` of every record, as the real registry does;
- no new data release.

trialwatch is the real `python -m watcher --config … check --json`. The baseline is what a
generic page watcher does: `GET /studies/{nctId}` for every trial on one keep-alive connection,
and a change whenever the SHA-256 of the body differs from last time (so housekeeping counts).
Requests and bytes received come from the replay server's log (body bytes); wall time is the
command's, start-up included (the start-up alone is printed too); CPU time and peak RSS are the
command's own, read by a small launcher process (see `LAUNCHER`). Where a cycle is repeated, the
median is printed (peak RSS: the largest); the state before a repeated cycle is restored, so
every repeat does the same work. Both watchers write only under a temporary state directory.

On 127.0.0.1 a request costs well under a millisecond, so the wall-time ratio measures local
work more than round trips. The release cycle is therefore run once more from the same state
with every answer `ROUND_TRIP_S` late (still far closer than the real registry), and the
wall-time target is judged on that run; the line after each table derives what the release
cycle would take at trialwatch's default politeness limit, where the number of requests decides. The
issue's targets end the output, each PASS or FAIL with the figure measured.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import httpx  # noqa: E402  (after the paths above, like the imports below)
from conftest import fixture_path, version_chains  # noqa: E402

from watcher.core.canonical import stamp_of  # noqa: E402
from watcher.registry.replay import ReplayRegistry, with_nct_id  # noqa: E402
from watcher.registry.replay_server import ReplayServer  # noqa: E402

Raw = dict[str, Any]
FIRST_ID = 90_000_000  # synthetic NCT IDs start here, far from the recorded ones
CHANGED_SHARE = 0.01
UNKNOWN_EVERY = 5  # every 5th changed trial (when it can) flips to UNKNOWN, update date kept
RELEASE_DAY = "2026-03-16"  # the replay registry's first release after its start stamp
RSS_TARGET_MB = 150.0
SPEEDUP_TARGET = 20.0
RELEASE_REQUEST_TARGET = 100
BIG_N = 10_000  # the N the targets are stated for
POLITE_RPM = 50  # the default [registry].requests_per_minute
# The release cycle is run once more with every answer this late: a registry across a network
# (clinicaltrials.gov is tens to hundreds of ms away from most of the world; 10 ms flatters the
# baseline). The wall-time target is judged on this run; the loopback figure is printed beside.
ROUND_TRIP_S = 0.010
OPEN = ("NOT_YET_RECRUITING", "RECRUITING", "ENROLLING_BY_INVITATION", "ACTIVE_NOT_RECRUITING")
NEXT_STATUS = {
    "NOT_YET_RECRUITING": "RECRUITING",
    "RECRUITING": "ACTIVE_NOT_RECRUITING",
    "ENROLLING_BY_INVITATION": "ACTIVE_NOT_RECRUITING",
    "ACTIVE_NOT_RECRUITING": "COMPLETED",
}


# -- the synthetic registry -----------------------------------------------------------------------


def templates() -> list[Raw]:
    """The newest recorded version of every trial that is a whole record with an update date
    (the `fields=` subsets and hand-made stubs among the fixtures are not)."""
    kept = []
    for paths in version_chains().values():
        raw: Raw = json.loads(fixture_path(paths[-1].name).read_text(encoding="utf-8"))
        if stamp_of(raw).last_update_posted and "derivedSection" in raw:
            kept.append(raw)
    return kept


def synthetic_id(n: int) -> str:
    return f"NCT{FIRST_ID + n:08d}"


def with_version_holder(raw: Raw, day: str) -> Raw:
    """The record as the registry re-serves it each day: only `versionHolder` moved."""
    derived = raw.get("derivedSection")
    misc = derived.get("miscInfoModule") if isinstance(derived, dict) else None
    if not isinstance(derived, dict) or not isinstance(misc, dict):
        return raw
    return {**raw, "derivedSection": {**derived, "miscInfoModule": {**misc, "versionHolder": day}}}


def _status(raw: Raw) -> dict[str, Any]:
    status: dict[str, Any] = raw["protocolSection"]["statusModule"]
    return status


def flip_status(raw: Raw, rng: random.Random) -> bool:
    status = _status(raw)
    moved = NEXT_STATUS.get(status.get("overallStatus", ""))
    if moved is None:
        return False
    status["overallStatus"] = moved
    return True


def add_site(raw: Raw, rng: random.Random) -> bool:
    sites = raw["protocolSection"].get("contactsLocationsModule", {}).get("locations")
    if not sites:
        return False
    site = copy.deepcopy(rng.choice(sites))
    site["facility"] = f"Synthetic Cancer Center {rng.randrange(10_000)}"
    site["status"] = "NOT_YET_RECRUITING"
    sites.append(site)
    return True


def move_enrollment(raw: Raw, rng: random.Random) -> bool:
    info = raw["protocolSection"].get("designModule", {}).get("enrollmentInfo")
    if not isinstance(info, dict) or not isinstance(info.get("count"), int):
        return False
    info["count"] += rng.randint(1, 40)
    return True


EDITS: tuple[Callable[[Raw, random.Random], bool], ...] = (flip_status, add_site, move_enrollment)


def to_unknown(raw: Raw) -> bool:
    """What the registry does to a trial nobody verified for two years: no new update date."""
    status = _status(raw)
    if status.get("overallStatus") not in OPEN:
        return False
    status["lastKnownStatus"] = status["overallStatus"]
    status["overallStatus"] = "UNKNOWN"
    return True


def edited(raw: Raw, unknown: bool, rng: random.Random) -> tuple[Raw, str] | None:
    """A changed copy of `raw` and what was done, or None when no edit fits this record. The
    edits a user cares about move the update date; the flip to UNKNOWN does not."""
    raw = copy.deepcopy(raw)
    if unknown and to_unknown(raw):
        return raw, "to UNKNOWN"
    edits = list(EDITS)
    rng.shuffle(edits)
    done = next((edit for edit in edits if edit(raw, rng)), None)
    if done is None:
        return None
    status = _status(raw)
    status["lastUpdateSubmitDate"] = RELEASE_DAY
    status["lastUpdatePostDateStruct"] = {"date": RELEASE_DAY, "type": "ACTUAL"}
    return raw, done.__name__


@dataclass(frozen=True)
class Release:
    """The records of the next data release, and what was really changed in it."""

    records: dict[str, Raw]
    changed: dict[str, str]  # NCT ID -> the edit made

    @property
    def to_unknown(self) -> set[str]:
        return {n for n, what in self.changed.items() if what == "to UNKNOWN"}


def release_with_changes(current: dict[str, Raw], rng: random.Random) -> Release:
    """Every record with a new `versionHolder`, and 1 % of them really edited."""
    records = {n: with_version_holder(raw, RELEASE_DAY) for n, raw in current.items()}
    wanted = max(1, round(len(records) * CHANGED_SHARE))
    changed: dict[str, str] = {}
    for nct_id in rng.sample(sorted(records), len(records)):
        made = edited(records[nct_id], len(changed) % UNKNOWN_EVERY == 0, rng)
        if made is not None:
            records[nct_id], changed[nct_id] = made
            if len(changed) == wanted:
                break
    return Release(records, changed)


# -- running a cycle ------------------------------------------------------------------------------

# Runs the measured command and writes what it cost to a file. This process cannot read a
# child's peak RSS itself: a child's high-water mark starts at the memory its exec replaced,
# which here is this process, holding the whole synthetic registry (about 1 GB at N = 10,000).
# The launcher is small, so the figure it reads is the command's own.
LAUNCHER = """\
import json, resource, subprocess, sys, time
began = time.perf_counter()
code = subprocess.run(sys.argv[2:]).returncode
wall = time.perf_counter() - began
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as out:
    json.dump({"code": code, "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
               "rss_mb": usage.ru_maxrss / 1024}, out)
"""


@dataclass(frozen=True)
class Usage:
    """What one command cost, as its own process (start-up included)."""

    wall_s: float
    cpu_s: float
    rss_mb: float


@dataclass(frozen=True)
class Run:
    """One cycle of one watcher, as measured from outside."""

    requests: int
    bytes: int
    usage: Usage
    found: frozenset[str]  # trials reported as changed


def child(command: list[str], state: Path | None = None) -> tuple[bytes, Usage]:
    """Run a command to its end through the launcher: its standard output and its cost.

    `state` is trialwatch's state directory: everything it writes (database, feeds) goes there.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if state is not None:
        env["STATE_DIRECTORY"] = str(state)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "usage.json"
        done = subprocess.run(
            [sys.executable, "-c", LAUNCHER, str(report), *command],
            capture_output=True,
            env=env,
            cwd=ROOT,
            check=False,
        )
        cost = json.loads(report.read_text(encoding="utf-8"))
    if done.returncode or cost["code"]:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr.decode()}")
    return done.stdout, Usage(cost["wall_s"], cost["cpu_s"], cost["rss_mb"])


def measured(
    server: ReplayServer, state: Path, command: list[str], found: Callable[[Any], set[str]]
) -> Run:
    """Run one cycle; requests and body bytes come from the server's log of it."""
    server.reset_log()
    out, usage = child(command, state)
    log = server.requests
    answer = json.loads(out)
    return Run(len(log), sum(r.bytes_sent for r in log), usage, frozenset(found(answer)))


def trialwatch_command(config: Path) -> list[str]:
    return [sys.executable, "-m", "watcher", "--config", str(config), "check", "--json"]


def trialwatch_found(answer: dict[str, Any]) -> set[str]:
    if answer["failed"]:
        raise SystemExit(f"trialwatch check failed on some trials: {answer['failed'][:3]}")
    return {c["nct_id"] for c in answer["changes"]}


def baseline_command(server: ReplayServer, state: Path) -> list[str]:
    return [sys.executable, __file__, "--baseline-cycle", server.base_url, str(state)]


def baseline_found(answer: dict[str, Any]) -> set[str]:
    if answer["failed"]:
        raise SystemExit(f"the baseline failed on {answer['failed']} trial(s)")
    return set(answer["changed"])


def baseline_cycle(base_url: str, state_path: Path) -> None:
    """One cycle of a generic watcher: GET each trial, compare the body's hash with last time."""
    state = json.loads(state_path.read_text(encoding="utf-8"))
    hashes: dict[str, str | None] = state["hashes"]
    changed, failed = [], 0
    with httpx.Client(
        base_url=base_url, headers={"User-Agent": "generic-watcher"}, timeout=30.0
    ) as http:
        for nct_id, before in hashes.items():
            response = http.get(f"/studies/{nct_id}")
            if response.status_code != httpx.codes.OK:
                failed += 1
                continue
            digest = hashlib.sha256(response.content).hexdigest()
            if before is not None and digest != before:
                changed.append(nct_id)
            hashes[nct_id] = digest
    state_path.write_text(json.dumps(state), encoding="utf-8")
    print(json.dumps({"changed": changed, "failed": failed}))


def startup() -> Usage:
    """What `python -m watcher --version` costs (median of 3): the price of starting at all."""
    runs = [child([sys.executable, "-m", "watcher", "--version"])[1] for _ in range(3)]
    return Usage(
        statistics.median(u.wall_s for u in runs),
        statistics.median(u.cpu_s for u in runs),
        statistics.median(u.rss_mb for u in runs),
    )


# -- one size ------------------------------------------------------------------------------------


@dataclass
class Cycle:
    """Both watchers' runs of one cycle (repeats kept), and the trials really changed in it."""

    name: str
    made: frozenset[str]
    to_unknown: frozenset[str] = frozenset()
    ours: list[Run] = field(default_factory=list)
    theirs: list[Run] = field(default_factory=list)


@dataclass(frozen=True)
class Size:
    """Everything measured for one N."""

    n: int
    cold: Cycle
    release: Cycle
    quiet: Cycle
    distant: Cycle  # the release again, with every answer ROUND_TRIP_S late
    seconds: float

    @property
    def cycles(self) -> tuple[Cycle, Cycle, Cycle]:
        return self.cold, self.release, self.quiet


class Bench:
    """The replay server with N synthetic trials, trialwatch's state and the baseline's."""

    def __init__(self, work: Path, server: ReplayServer) -> None:
        self.work, self.server = work, server
        self.state = work / "state"
        self.state.mkdir()
        self.config = self.state / "config.toml"
        self.config.write_text(
            f'[registry]\nbase_url = "{server.base_url}"\nrequests_per_minute = 0\n'
            "timeout_s = 60\n",
            encoding="utf-8",
        )
        self.baseline_state = self.state / "baseline.json"

    def watch(self, nct_ids: list[str]) -> None:
        """Watch every trial, the way `trialwatch watch add --file` does."""
        ids_file = self.work / "ids.txt"
        ids_file.write_text("\n".join(nct_ids), encoding="utf-8")
        command = [sys.executable, "-m", "watcher", "--config", str(self.config)]
        child([*command, "watch", "add", "--file", str(ids_file)], self.state)
        hashes = dict.fromkeys(nct_ids)
        self.baseline_state.write_text(json.dumps({"hashes": hashes}), encoding="utf-8")

    def cycle(self, cycle: Cycle, repeat: int) -> Cycle:
        """Run both watchers `repeat` times from the same state; keep the state of the last."""
        before = self.work / "before"
        if repeat > 1:
            shutil.copytree(self.state, before)
        for n in range(repeat):
            if n:
                shutil.rmtree(self.state)
                shutil.copytree(before, self.state)
            ours = trialwatch_command(self.config)
            cycle.ours.append(measured(self.server, self.state, ours, trialwatch_found))
            theirs = baseline_command(self.server, self.baseline_state)
            cycle.theirs.append(measured(self.server, self.state, theirs, baseline_found))
        if repeat > 1:
            shutil.rmtree(before)
        return cycle


def run_size(n: int, records: list[Raw], repeat: int) -> Size:
    """The three cycles for N trials: cold start once, the two later ones `repeat` times."""
    began = time.perf_counter()
    rng = random.Random(20260316 + n)  # fixed: every run makes the same edits
    current = {
        synthetic_id(i): with_nct_id(records[i % len(records)], synthetic_id(i)) for i in range(n)
    }
    registry = ReplayRegistry(current)
    with (
        tempfile.TemporaryDirectory(prefix="trialwatch-bench-") as tmp,
        ReplayServer(registry) as server,
    ):
        bench = Bench(Path(tmp), server)
        bench.watch(sorted(current))
        cold = bench.cycle(Cycle("cold start", frozenset()), 1)
        release = release_with_changes(current, rng)
        registry.publish(*release.records.values())
        changed = Cycle(
            f"release, {CHANGED_SHARE:.0%} changed",
            frozenset(release.changed),
            frozenset(release.to_unknown),
        )
        before_release = Path(tmp) / "before-release"
        shutil.copytree(bench.state, before_release)
        bench.cycle(changed, repeat)
        quiet = bench.cycle(Cycle("no new release", frozenset()), repeat)
        shutil.rmtree(bench.state)
        shutil.copytree(before_release, bench.state)
        server.set_round_trip(ROUND_TRIP_S)
        distant = Cycle(
            f"release, {ROUND_TRIP_S * 1000:.0f} ms trip", changed.made, changed.to_unknown
        )
        bench.cycle(distant, 1)
    return Size(n, cold, changed, quiet, distant, time.perf_counter() - began)


# -- the table -----------------------------------------------------------------------------------


def median(runs: list[Run], pick: Callable[[Run], float]) -> float:
    return statistics.median(pick(r) for r in runs)


def columns(runs: list[Run]) -> list[float]:
    return [
        median(runs, lambda r: r.requests),
        median(runs, lambda r: r.bytes) / 1e6,
        median(runs, lambda r: r.usage.wall_s),
        median(runs, lambda r: r.usage.cpu_s),
        max(r.usage.rss_mb for r in runs),
    ]


def fmt(values: list[float]) -> list[str]:
    requests, mb, wall, cpu, rss = values
    return [f"{requests:,.0f}", f"{mb:,.1f}", f"{wall:,.2f}", f"{cpu:,.2f}", f"{rss:,.0f}"]


HEADER = ("cycle", "watcher", "requests", "MB received", "wall s", "CPU s", "peak RSS MB")


def line(cells: tuple[str, ...], note: str = "") -> str:
    name, who, *numbers = cells
    text = f"{name:<22}{who:<12}" + "".join(f"{c:>13}" for c in numbers)
    return f"{text}  {note}" if note else text


def found_note(cycle: Cycle, runs: list[Run]) -> str:
    """What the last run reported as changed, against what was really changed."""
    found = runs[-1].found
    text = f"changes found {len(found):,} of {len(cycle.made):,} made"
    false, missed = len(found - cycle.made), len(cycle.made - found)
    if false:
        text += f", {false:,} false"
    if missed:
        text += f", {missed:,} missed"
    if cycle.to_unknown:
        text += f" ({len(cycle.to_unknown & found)} of {len(cycle.to_unknown)} UNKNOWN flips)"
    return text


def report(size: Size, records: list[Raw]) -> None:
    lengths = sorted(len(json.dumps(r, ensure_ascii=False, separators=(",", ":"))) for r in records)
    print(
        f"\nN = {size.n:,} trials, cloned from {len(records)} recorded records "
        f"(median {statistics.median(lengths) / 1000:.0f} KB, largest {lengths[-1] / 1000:.0f} KB)"
        f"; {size.seconds:.0f} s to measure"
    )
    print(line(HEADER))
    for cycle in size.cycles:
        ours, theirs = columns(cycle.ours), columns(cycle.theirs)
        print(line((cycle.name, "trialwatch", *fmt(ours)), found_note(cycle, cycle.ours)))
        print(line(("", "per trial", *fmt(theirs)), found_note(cycle, cycle.theirs)))
        ratios = [f"{t / o:,.1f}x" if o else "-" for t, o in zip(theirs[:4], ours[:4], strict=True)]
        print(line(("", "ratio", *ratios, "")))
    cycle = size.distant
    ours, theirs = columns(cycle.ours), columns(cycle.theirs)
    print(line((cycle.name, "trialwatch", *fmt(ours)), found_note(cycle, cycle.ours)))
    print(line(("", "per trial", *fmt(theirs)), found_note(cycle, cycle.theirs)))
    ratios = [f"{t / o:,.1f}x" if o else "-" for t, o in zip(theirs[:4], ours[:4], strict=True)]
    print(line(("", "ratio", *ratios, "")))
    ours_s, theirs_s = polite_s(size.release.ours), polite_s(size.release.theirs)
    print(
        f"the release cycle at the default limit of {POLITE_RPM} requests/min (derived: "
        f"requests / limit + wall s): trialwatch {ours_s / 60:,.1f} min, per trial "
        f"{theirs_s / 60:,.1f} min ({theirs_s / ours_s:,.0f}x)"
    )


def polite_s(runs: list[Run]) -> float:
    """Seconds a cycle would take at the default rate limit: its requests, spaced out."""
    return median(runs, lambda r: r.requests * 60 / POLITE_RPM + r.usage.wall_s)


# -- the targets ---------------------------------------------------------------------------------


def targets(sizes: list[Size]) -> list[tuple[bool, str]]:
    """The issue's targets, each with the figure measured."""
    big = max(sizes, key=lambda s: s.n)
    quiet = [median(s.quiet.ours, lambda r: r.requests) for s in sizes]
    release = big.release
    requests = median(release.ours, lambda r: r.requests)
    found = [len(release.made & r.found) for r in release.ours]
    exact = all(r.found == release.made for r in release.ours)
    speedup = median(release.theirs, lambda r: r.usage.wall_s) / median(
        release.ours, lambda r: r.usage.wall_s
    )
    distant = big.distant
    far_speedup = median(distant.theirs, lambda r: r.usage.wall_s) / median(
        distant.ours, lambda r: r.usage.wall_s
    )
    rss = max(r.usage.rss_mb for c in big.cycles for r in c.ours)
    # Per N: the UNKNOWN flips made, and the fewest of them any run found.
    unknown = [
        (
            min(len(s.release.to_unknown & r.found) for r in s.release.ours),
            s.release.to_unknown,
            s.n,
        )
        for s in sizes
    ]
    every_cycle = all(
        r.found == c.made for s in sizes for c in (*s.cycles, s.distant) for r in c.ours
    )
    of = f"N = {big.n:,}" + ("" if big.n == BIG_N else f" (the issue asks N = {BIG_N:,})")
    return [
        (
            all(q == 1 for q in quiet),
            "no new release costs 1 request whatever N: "
            + ", ".join(f"{q:.0f} at N = {s.n:,}" for q, s in zip(quiet, sizes, strict=True)),
        ),
        (
            requests <= RELEASE_REQUEST_TARGET and exact,
            f"a release with 1 % of {of} changed: {requests:.0f} requests "
            f"(target <= {RELEASE_REQUEST_TARGET}), {min(found)} of {len(release.made)} changes "
            f"found{'' if exact else ', or some false'}",
        ),
        (
            far_speedup >= SPEEDUP_TARGET,
            f"that cycle's wall time, {of}, every answer {ROUND_TRIP_S * 1000:.0f} ms late: "
            f"{far_speedup:.1f}x faster than one GET per trial (target >= "
            f"{SPEEDUP_TARGET:.0f}x; on bare loopback, <1 ms a request: {speedup:.1f}x)",
        ),
        (
            rss <= RSS_TARGET_MB,
            f"peak RSS of `trialwatch check`, {of}: {rss:.0f} MB "
            f"(target <= {RSS_TARGET_MB:.0f} MB)",
        ),
        (
            all(hit == len(made) > 0 for hit, made, _ in unknown),
            "status flips to UNKNOWN with no new update date found (none made is a FAIL): "
            + ", ".join(f"{hit} of {len(made)} at N = {n:,}" for hit, made, n in unknown),
        ),
        (every_cycle, "every cycle found exactly the changes made (none missed, none false)"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated N")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the two later cycles")
    parser.add_argument(
        "--baseline-cycle", nargs=2, metavar=("BASE_URL", "STATE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.baseline_cycle:
        baseline_cycle(args.baseline_cycle[0], Path(args.baseline_cycle[1]))
        return
    began = time.perf_counter()
    records = templates()
    alone = startup()
    print(
        f"start-up alone (python -m watcher --version): {alone.wall_s:.2f} s wall, "
        f"{alone.cpu_s:.2f} s CPU, {alone.rss_mb:.0f} MB"
    )
    sizes = []
    for n in (int(s) for s in args.sizes.split(",")):
        sizes.append(run_size(n, records, args.repeat))
        report(sizes[-1], records)
    print(f"\ntargets (medians of {args.repeat} runs where repeated):")
    for met, text in targets(sizes):
        print(f"{'PASS' if met else 'FAIL'}  {text}")
    print(f"\n{time.perf_counter() - began:.0f} s in all")


if __name__ == "__main__":
    main()
