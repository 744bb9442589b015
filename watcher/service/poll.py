"""One poll cycle: ask the registry as little as possible, store only what really changed.

The registry publishes new data about once a day and says when (`/version`), so a cycle:
1. asks `/version`; a trial already checked against that data release is not asked about again
   (unless it is failing, new, or its last success is older than the safety-net interval);
2. asks for the light fields (update date and overall status) of the rest, in batches;
3. fetches full records only for trials whose light fields moved, that are new, or that failed,
   and, in their stead of a light check, the few whose last full comparison is oldest (the
   rolling full refresh, `_refresh_due`): a change that moves neither the update date nor the
   status (a reference added) is found within `full_refresh`.
A fetch that fails records the error on the trial and stores nothing: a fault is never a change.

Each trial is its own fault boundary: a record that cannot be cleaned, hashed, parsed, diffed,
worded or planned fails that trial alone, with a one-line reason, and the cycle goes on. What
the registry answers is believed only after `watcher.core.clean`: text cleaned once, here, a
record without the modules every full record has is "incomplete" (nothing stored), and a
record older than the stored one is a stale answer (logged, neither a change nor a failure).
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from watcher.core.canonical import Stamp, content_hash, stamp_of
from watcher.core.change import Change
from watcher.core.clean import clean_record, missing_parts
from watcher.core.cycle import CycleReport, Outcome
from watcher.core.diff import diff_trials
from watcher.core.message import Notices, Outgoing
from watcher.core.progress import Progress
from watcher.core.record import Trial, parse_trial
from watcher.core.version import FirstVersion, NewVersion
from watcher.core.wording import change_sentence
from watcher.delivery.feed_files import FeedFiles
from watcher.errors import RegistryError, StoreError, TrialNotFound
from watcher.service.firsts import Preparer, Ready, Render, failure_reason
from watcher.store.database import Store
from watcher.store.rows import TrialRow

# Who hears about a new version: (NCT ID, its version number, the trial, its changes, now) →
# the messages and digest entries to store with it (`watcher.service.wiring.notice_planner`).
Planner = Callable[[str, int, Trial, Sequence[Change], datetime], Notices]
# What the subscribers of a trial are told when the registry lists it under another NCT ID:
# (the old ID, the trial as now listed, now) → the messages to queue with the move
# (`watcher.service.wiring.notice_mover`).
Mover = Callable[[str, Trial, datetime], Sequence[Outgoing]]
# What the subscribers of a stored trial are told when the registry answers 404 for it: (the
# trial as stored, before this failure is counted; now) → the messages to queue, none until
# the 404s are believed (`watcher.service.wiring.notice_gone`).
Goner = Callable[[TrialRow, datetime], Sequence[Outgoing]]
log = logging.getLogger(__name__)
# How many trials' outcomes are written per transaction while a cycle streams through them.
FLUSH_EVERY = 500
# How many first versions (a cold start) are stored per transaction: a commit each cost more
# than encoding them, and a killed cycle fetches at most this many again.
FIRSTS_PER_COMMIT = 100


class Firsts(Protocol):
    """Who is told of new watches' first versions once they are stored (`FirstFeeds`), with
    what `render` made of each where it was prepared (their feed files)."""

    @property
    def render(self) -> Render: ...
    def __call__(self, stored: Sequence[tuple[FirstVersion, FeedFiles | None]]) -> None: ...


class Fetch(Protocol):
    """One trial's answer from the registry: a record or an error."""

    @property
    def nct_id(self) -> str: ...
    @property
    def record(self) -> dict[str, Any] | None: ...
    @property
    def error(self) -> RegistryError | None: ...


class Registry(Protocol):
    """What a cycle needs from the registry client."""

    @property
    def request_count(self) -> int: ...
    def data_timestamp(self) -> str: ...
    def fetch_stamps(self, nct_ids: Sequence[str]) -> Iterator[Fetch]: ...
    def fetch_studies(self, nct_ids: Sequence[str]) -> Iterator[Fetch]: ...


class _Ledger:
    """Collects outcomes and writes the cheap ones to the store in batches."""

    def __init__(
        self,
        store: Store,
        release: str | None,
        now: datetime,
        gone: Callable[[str], None] = lambda nct_id: None,
        *,
        total: int = 0,
        progress: Progress | None = None,
        firsts: Firsts | None = None,
        new_watches: int = 0,
    ) -> None:
        self.store, self.release, self.now, self.gone = store, release, now, gone
        self.total, self.progress, self.firsts = total, progress, firsts
        self.outcomes: list[Outcome] = []
        self.passed: list[str] = []  # passed over: unchanged, not asked about (`passed_over`)
        self._new_watches = new_watches
        self._preparer: Preparer | None = None
        self._unchanged: list[Stamp] = []
        self._skipped: list[str] = []
        self._passed: list[str] = []
        self._failed: list[tuple[str, str]] = []
        self._compared: list[str] = []

    def compared(self, nct_id: str) -> None:
        """The whole record was fetched and compared with the stored one."""
        self._compared.append(nct_id)

    def unchanged(self, stamp: Stamp, nct_id: str) -> None:
        self._unchanged.append(Stamp(nct_id, stamp.last_update_posted, stamp.overall_status))
        self._add(Outcome(nct_id, "unchanged"))
        self._maybe_flush()

    def skipped(self, nct_id: str) -> None:
        """Not asked about: the data release it was last checked against is still current."""
        self._skip(nct_id)
        self._maybe_flush()

    def _skip(self, nct_id: str) -> None:
        self._skipped.append(nct_id)
        self._add(Outcome(nct_id, "unchanged"))

    def passed_over(self, nct_ids: Sequence[str]) -> None:
        """Like `skipped`, but written by `settle` once the cycle is over: one meta row when the
        cycle covered every watched trial (`Store.mark_quiet`). Taken together (a quiet cycle
        passes over 100,000 trials), kept as IDs rather than outcomes (`CycleReport`), and told
        to the progress once."""
        if not nct_ids:
            return
        self.passed += nct_ids
        self._passed += nct_ids
        if self.progress is not None:
            self.progress(len(self.outcomes) + len(self.passed), self.total)

    def settle(self, *, quiet: bool) -> None:
        """Write what is pending; `quiet`: the trials passed over were every watched trial
        checked against this release, and the cycle ran to its end."""
        if quiet and self._passed and self.release is not None:
            self.store.mark_quiet(self.release, self.now)
        else:
            self._skipped += self._passed
        self._passed = []
        self.flush()
        self.close()

    def close(self) -> None:
        """End the worker preparing first versions, if any (after an error too)."""
        if self._preparer is not None:
            self._preparer.close()
            self._preparer = None

    def failed(self, nct_id: str, detail: str, *, not_found: bool = False) -> None:
        """A failed fetch or record; `not_found`: the registry answered 404 for it."""
        if not_found:
            self.gone(nct_id)
        self._fail(nct_id, detail)
        self._maybe_flush()

    def _fail(self, nct_id: str, detail: str) -> None:
        self._failed.append((nct_id, detail))
        self._add(Outcome(nct_id, "failed", error=detail))

    def new_version(self, nct_id: str, version: int, changes: Sequence[Change]) -> None:
        """A new version stored: its whole record was compared (or is the first)."""
        self._add(Outcome(nct_id, "new_version", version, tuple(changes)))
        self.compared(nct_id)

    def first_version(self, nct_id: str, raw: dict[str, Any]) -> None:
        """A new watch's record, as served: its first version is stored with the others of its
        page (`FIRSTS_PER_COMMIT`), once prepared (`watcher.service.firsts`: in a worker
        process when the cycle has many). It is not parsed (a cold start parses nothing): the
        trial's next version parses both, and a record that cannot be parsed fails its trial
        then; one that cannot be cleaned, hashed or packed fails its own trial now."""
        if self._preparer is None:  # its worker ends with the cycle (`settle`, `close`)
            render = self.firsts.render if self.firsts is not None else None
            self._preparer = Preparer(self._new_watches, render)
        self._preparer.add(nct_id, raw)
        lead = self._preparer.lead
        if self._preparer.pending >= FIRSTS_PER_COMMIT + lead:
            self._store_firsts(keep=lead)

    def _store_firsts(self, *, keep: int = 0) -> None:
        """Store the first versions prepared (all but the newest `keep`, which the worker may
        go on with); one another process stored first is left to the next cycle, which
        compares the two."""
        if self._preparer is None:
            return
        ready: list[Ready] = []
        for prepared in self._preparer.take(keep=keep):
            if isinstance(prepared, Ready):
                ready.append(prepared)
            else:
                log.warning("%s: %s", *prepared)
                self._fail(*prepared)
        if not ready:
            return
        firsts = [r.first for r in ready]
        stored = {
            first.nct_id for first in self.store.save_first_versions(firsts, self.release, self.now)
        }
        if self.firsts is not None:
            self.firsts([(r.first, r.files) for r in ready if r.first.nct_id in stored])
        for first in firsts:
            if first.nct_id in stored:
                self.new_version(first.nct_id, 1, [])
            else:
                self._skip(first.nct_id)

    def _add(self, outcome: Outcome) -> None:
        """One more trial done: its outcome kept, and said to whoever watches the progress."""
        self.outcomes.append(outcome)
        if self.progress is not None:
            self.progress(len(self.outcomes) + len(self.passed), self.total)

    def _maybe_flush(self) -> None:
        if len(self._unchanged) + len(self._skipped) + len(self._failed) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        if self._preparer is not None and self._preparer.pending:
            self._store_firsts()
        if self._unchanged:
            self.store.mark_unchanged(self._unchanged, self.release, self.now)
            self._unchanged = []
        if self._skipped:
            self.store.mark_skipped(self._skipped, self.now)
            self._skipped = []
        if self._failed:
            self.store.record_failures(self._failed, self.now)
            self._failed = []
        if self._compared:
            self.store.mark_fully_compared(self._compared, self.now)
            self._compared = []


def run_cycle(
    store: Store,
    registry: Registry,
    now: datetime,
    *,
    full_check_every: timedelta,
    full_refresh: timedelta | None = None,
    nct_ids: Sequence[str] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    planner: Planner | None = None,
    mover: Mover | None = None,
    gone: Goner | None = None,
    recent: RecentVersions | None = None,
    progress: Progress | None = None,
    firsts: Firsts | None = None,
) -> CycleReport:
    """Check the watched trials (or just `nct_ids`) once and store what changed.

    With a `planner`, each new version's notifications are queued in the version's own
    transaction (nothing to notify is lost, or queued twice, whatever stops the process).

    `recent` keeps the latest versions between cycles (a daemon passes the same one each time).

    With `gone`, the subscribers of a trial the registry answers 404 for are told (at once,
    each message queued once: its key names the trial and its last stored version).

    With `full_refresh`, every trial's whole record is fetched and compared at least that often
    (`_refresh_due`), not only when its light fields move.

    `should_stop` is asked between trials: when it says yes (the daemon got SIGTERM), the cycle
    ends after the trial in hand; the rest keep their old state and are due next time.

    `progress` is told (trials done, trials to check) as each trial's outcome is known.

    `firsts` is told the first versions of new watches just stored (their light fields and
    titles), a page at a time and after their commit (`watcher.delivery.feed_files.FirstFeeds`
    writes their feeds while the cycle goes on); it must not raise.
    """
    requests_before = registry.request_count
    try:
        release: str | None = registry.data_timestamp()
    except RegistryError:
        release = None  # unknown: every trial gets at least a light check
    start = store.cycle_rows(
        release, now - full_check_every, now - full_refresh / 2 if full_refresh else None
    )
    trials, passed = start.look, start.passed
    watched = len(trials) + len(passed)
    refresh = (
        _refresh_due(trials, now, full_refresh, total=watched, latest_check=start.latest_check)
        if full_refresh
        else set()
    )
    if nct_ids is not None:
        wanted = set(nct_ids)
        trials = [t for t in trials if t.nct_id in wanted]
        passed = [n for n in passed if n in wanted]
    rows = {t.nct_id: t for t in trials}

    def tell_gone(nct_id: str) -> None:
        told = gone(rows[nct_id], now) if gone is not None and nct_id in rows else ()
        if told:
            store.enqueue(told, now)

    total = len(trials) + len(passed)
    ledger = _Ledger(
        store,
        release,
        now,
        tell_gone,
        total=total,
        progress=progress,
        firsts=firsts,
        new_watches=sum(1 for t in trials if t.current_version is None),
    )
    try:
        ledger.passed_over(passed)  # same data release: nothing can have changed

        full = [t.nct_id for t in trials if _needs_full(t) or t.nct_id in refresh]
        light: list[str] = []
        same_release: list[str] = []
        for t in trials:
            if _needs_full(t) or t.nct_id in refresh:
                continue
            if _needs_light(t, release, now, full_check_every):
                light.append(t.nct_id)
            else:
                same_release.append(t.nct_id)
        ledger.passed_over(same_release)  # same data release: nothing can have changed

        for nct_id, record in _answered(registry.fetch_stamps(light), ledger, should_stop):
            seen = stamp_of(clean_record(record))  # stored, logged and compared with cleaned ones
            known = rows[nct_id].stamp
            if seen.nct_id != nct_id:  # an alias the registry redirects: the full fetch moves it
                full.append(nct_id)
            elif (seen.last_update_posted, seen.overall_status) == (
                known.last_update_posted,
                known.overall_status,
            ):
                ledger.unchanged(seen, nct_id)
            elif _older(seen.last_update_posted, known.last_update_posted):
                _stale(ledger, nct_id, seen.last_update_posted, known.last_update_posted)
            else:
                full.append(nct_id)

        if not should_stop():
            recent = recent or RecentVersions()
            for nct_id, record in _answered(registry.fetch_studies(full), ledger, should_stop):
                try:
                    nct_id = _follow_alias(store, nct_id, record, mover, now)
                    row = rows.get(nct_id)
                    stored = row is None or row.current_version is not None
                    _ingest(store, nct_id, record, ledger, now, planner, recent, stored=stored)
                except StoreError:
                    raise  # the database itself (full, locked, read-only): no trial can be stored
                except Exception as exc:  # one trial's fault must not stop the others
                    reason = failure_reason(exc)
                    log.warning("%s: the record could not be processed (%s)", nct_id, reason)
                    log.debug("%s: what went wrong", nct_id, exc_info=True)
                    ledger.failed(nct_id, reason)
        ledger.settle(quiet=total == watched and not should_stop())
    finally:
        ledger.close()
    return CycleReport(
        started_at=now,
        data_timestamp=release,
        requests=registry.request_count - requests_before,
        outcomes=tuple(sorted(ledger.outcomes, key=lambda o: o.nct_id)),
        passed_over=tuple(sorted(ledger.passed)),
    )


def _refresh_due(
    trials: Sequence[TrialRow],
    now: datetime,
    every: timedelta,
    *,
    total: int,
    latest_check: str | None,
) -> set[str]:
    """The trials whose whole record is fetched this cycle, although their light fields did not
    move: every one last compared `every` ago or longer (the promise), and, oldest first, some
    of those past half their period or never compared since the upgrade, so the refreshes
    spread over cycles instead of falling due together: this cycle's share of all trials at the
    pace cycles run (`slots`: N per period, N/7 a day at 7 days, hourly or daily cycles alike).
    Trials added together are half spread in their first period, and the rest fall due together
    once; after the upgrade, the never-compared ones are spread by the share alone. A cycle
    with no trial past half its period asks nothing.

    `trials` need hold only those compared in full half a period ago or more (the rest cannot
    be due); `total` is the number of watched trials, `latest_check` the newest check of any.
    """
    last_cycle = max(datetime.fromisoformat(latest_check) if latest_check else now, now - every)
    stored = [t for t in trials if t.current_version is not None]
    overdue = {t.nct_id for t in stored if _compared_before(t, now - every, never=False)}
    ahead = sorted(
        (t for t in stored if t.nct_id not in overdue and _compared_before(t, now - every / 2)),
        key=lambda t: (t.last_full_at or "", t.nct_id),
    )

    # N slots per period on a fixed time grid: the cycles since the last one own the slots
    # passed meanwhile, so N are refreshed per period whether cycles run hourly or daily.
    def slots(moment: datetime) -> int:
        return math.floor(total * moment.timestamp() / every.total_seconds())

    share = slots(now) - slots(last_cycle) - len(overdue)
    return overdue | {t.nct_id for t in ahead[: max(0, share)]}


def _compared_before(trial: TrialRow, moment: datetime, *, never: bool = True) -> bool:
    """Was the trial's whole record last compared before `moment`? `never` answers for a trial
    not compared since m004 (spread, not all due at once after an upgrade)."""
    if trial.last_full_at is None:
        return never
    return datetime.fromisoformat(trial.last_full_at) <= moment


def _follow_alias(
    store: Store, nct_id: str, record: dict[str, Any], mover: Mover | None, now: datetime
) -> str:
    """The ID the record is now listed under; the watch moves there when the registry says
    `nct_id` is an alias of it (the client follows its 301 and hands back the record), and its
    subscribers are told, in the move's own transaction."""
    listed = stamp_of(record).nct_id
    if listed is None or listed == nct_id:
        return nct_id
    log.warning(
        "%s: the registry now lists this trial as %s; the watch moves there", nct_id, listed
    )
    told = mover(nct_id, parse_trial(record), now) if mover else ()
    store.move_watch(nct_id, listed, now, told)
    return listed


def _older(seen: str | None, known: str | None) -> bool:
    """Is the update date `seen` earlier than `known` (ISO dates compare as text)?"""
    return seen is not None and known is not None and seen < known


def _stale(ledger: _Ledger, nct_id: str, seen: str | None, known: str | None) -> None:
    """A stale answer (a lagging replica): logged and left alone, neither a change nor a fault."""
    log.warning("%s: stale answer (updated %s, stored %s); ignored", nct_id, seen, known)
    ledger.skipped(nct_id)


def _needs_full(trial: TrialRow) -> bool:
    """New watches and failing trials are fetched in full: there is nothing to compare against."""
    return trial.current_version is None or trial.consecutive_failures > 0


def _needs_light(
    trial: TrialRow, release: str | None, now: datetime, full_check_every: timedelta
) -> bool:
    if release is None or trial.seen_release != release or trial.last_success_at is None:
        return True
    return now - datetime.fromisoformat(trial.last_success_at) >= full_check_every


def _answered(
    fetches: Iterable[Fetch], ledger: _Ledger, should_stop: Callable[[], bool]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The records the registry answered, until asked to stop; each failure goes on the ledger."""
    for fetched in fetches:
        if should_stop():
            return
        if fetched.error is not None:
            not_found = isinstance(fetched.error, TrialNotFound)
            ledger.failed(fetched.nct_id, fetched.error.detail, not_found=not_found)
            continue
        assert fetched.record is not None  # a Fetch holds a record or an error
        yield fetched.nct_id, fetched.record


class RecentVersions:
    """The latest stored version of recently changed trials, as record and parsed trial.

    A new version is diffed against the one before it. Without this, each new version reads
    the previous one back from SQLite, decodes its delta chain and parses it again, although
    the process that stored it still had both in hand; a daemon keeps one of these across
    cycles. Bounded (least recently stored first out) because a record can be large.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._latest: OrderedDict[str, tuple[int, dict[str, Any], Trial]] = OrderedDict()

    def get(self, nct_id: str, version: int) -> tuple[dict[str, Any], Trial] | None:
        """The record and trial of `version`, if that is the one kept for `nct_id`."""
        kept = self._latest.get(nct_id)
        return (kept[1], kept[2]) if kept is not None and kept[0] == version else None

    def put(self, nct_id: str, version: int, raw: dict[str, Any], trial: Trial) -> None:
        """Keep `version` as the latest of `nct_id`."""
        self._latest.pop(nct_id, None)
        self._latest[nct_id] = (version, raw, trial)
        while len(self._latest) > self.size:
            self._latest.popitem(last=False)


def _previous(
    store: Store, nct_id: str, version: int, recent: RecentVersions
) -> tuple[dict[str, Any], Trial]:
    """The stored version `version` as record and trial, from `recent` when it has it."""
    kept = recent.get(nct_id, version)
    if kept is not None:
        return kept
    raw = clean_record(store.record(nct_id, version))  # stored before cleaning existed, maybe
    return raw, parse_trial(raw)


def _ingest(
    store: Store,
    nct_id: str,
    raw: dict[str, Any],
    ledger: _Ledger,
    now: datetime,
    planner: Planner | None,
    recent: RecentVersions,
    *,
    stored: bool = True,
) -> None:
    """Store `raw` as a new version when its content differs from the latest stored one.

    `stored` False: the cycle began with no version of the trial (a new watch), so the latest
    is not read back for each of a cold start's trials; `Store.save_first_versions` looks again
    in its own transaction, in case another process stored one meanwhile."""
    missing = missing_parts(raw)
    if missing:
        ledger.failed(nct_id, f"incomplete record from the registry (no {', '.join(missing)})")
        return
    if not stored:  # the first version: nothing to compare with, nobody to tell
        ledger.first_version(nct_id, raw)
        return
    raw = clean_record(raw)
    latest = store.version(nct_id)
    if latest is None:
        ledger.first_version(nct_id, raw)
        return
    if _older(stamp_of(raw).last_update_posted, latest.last_update_posted):
        _stale(ledger, nct_id, stamp_of(raw).last_update_posted, latest.last_update_posted)
        return
    digest = content_hash(raw)
    if latest.content_hash == digest:
        ledger.unchanged(stamp_of(raw), nct_id)
        ledger.compared(nct_id)
        return
    trial = parse_trial(raw)
    previous, before = _previous(store, nct_id, latest.version, recent)
    changes = diff_trials(before, trial)
    number = latest.version + 1
    notices = planner(nct_id, number, trial, changes, now) if planner and changes else None
    new = NewVersion.of(nct_id, raw, digest, changes, [change_sentence(c) for c in changes])
    version = store.save_version(new, previous, ledger.release, now, notices=notices)
    recent.put(nct_id, version, raw, trial)
    ledger.new_version(nct_id, version, changes)
