"""Backfill: a trial's past versions, read from the registry's history and stored before the
first polled one, so its story starts when it was registered, not when it was first watched.

How one trial is backfilled (`backfill`), and why:

- **A plan first**, in one transaction (`Store.plan_backfill`): one index request lists the
  registry's versions. The last one the registry had by the day of the first polled version is
  taken to be that version (marked as it when the content is the same); those before it are
  stored, numbered just below it (`registry number + offset`), so polled numbers, the messages
  and feeds that name them, never move. A trial with nothing stored yet gets the registry's
  newest version as its version 0 first, in the plan's transaction: the poll then compares with
  it and tells nobody about what happened before.
- **Then one version per request**, oldest first, each stored in its own short transaction
  with the plan's progress (`Store.save_historical`), so the daemon and the web are never
  blocked for long, and a backfill stopped anywhere resumes at the next version, with the same
  numbers. A version with the content of the first polled one *is* it: the polled version is
  marked as that registry version and nothing more is read. A version with the content of the
  one before is passed over.
- **Changes** between stored versions come from the same diff and sentences as the poll's
  (`core/diff.py`, `core/wording/`), dated by the registry's date of the newer version and
  marked historical: never an email, never a webhook (nothing is planned, nothing queued), in
  feeds only with `[feeds].include_history`, always in `history`, `diff` and `timeline`.
- **A finished backfill is not asked about again** (no request): re-running adds nothing.
- A trial whose history cannot be read (404, no versions, another shape, the registry down) is
  one line naming it; it stays watched and polled, and a later run resumes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from watcher.config import Settings
from watcher.core.canonical import content_hash
from watcher.core.clean import clean_record, missing_parts
from watcher.core.diff import diff_trials
from watcher.core.progress import Progress
from watcher.core.record import JSON, Trial, parse_trial
from watcher.core.version import NewVersion
from watcher.core.wording import change_sentence
from watcher.errors import HistoryUnavailable, RegistryError, StoreError
from watcher.registry.history import HistoryEntry
from watcher.service.wiring import history_client, registry_client
from watcher.store.database import Store
from watcher.store.rows import BackfillPlan, VersionRow


class History(Protocol):
    """What a backfill needs from the history client (`registry/history.py`)."""

    @property
    def request_count(self) -> int: ...
    def history_index(self, nct_id: str) -> tuple[HistoryEntry, ...]: ...
    def history_version(self, nct_id: str, version: int) -> dict[str, Any]: ...


@dataclass
class TrialBackfill:
    """What one trial's backfill did this run: versions fetched, stored and passed over (the
    same content as the one before, a record that cannot be read, or the first polled one),
    `done` when nothing is left to read, `error` the one line when it stopped."""

    nct_id: str
    fetched: int = 0
    stored: int = 0
    skipped: int = 0
    done: bool = False
    error: str | None = None

    def to_json(self) -> dict[str, JSON]:
        return {
            "nct_id": self.nct_id,
            "fetched": self.fetched,
            "stored": self.stored,
            "skipped": self.skipped,
            "done": self.done,
            "error": self.error,
        }


@dataclass
class BackfillReport:
    """Every trial's backfill, in the order asked, and the requests sent for them."""

    trials: list[TrialBackfill] = field(default_factory=list)
    requests: int = 0

    @property
    def failed(self) -> list[TrialBackfill]:
        """The trials whose history could not be read (each has its one-line `error`)."""
        return [t for t in self.trials if t.error is not None]

    def to_json(self) -> dict[str, JSON]:
        return {
            "trials": len(self.trials),
            "fetched": sum(t.fetched for t in self.trials),
            "stored": sum(t.stored for t in self.trials),
            "skipped": sum(t.skipped for t in self.trials),
            "failed": len(self.failed),
            "requests": self.requests,
            "per_trial": [t.to_json() for t in self.trials],
        }


def backfill(
    store: Store,
    history: History,
    nct_ids: Sequence[str],
    now: datetime,
    *,
    progress: Progress | None = None,
) -> BackfillReport:
    """Backfill each trial in turn (`progress` told of each); one trial's failure is its own."""
    report = BackfillReport()
    before = history.request_count
    for done, nct_id in enumerate(nct_ids, 1):
        outcome = TrialBackfill(nct_id)
        try:
            _backfill_one(store, history, outcome, now)
        except (RegistryError, StoreError) as error:  # this trial only: the others go on
            text = str(error)
            outcome.error = text if text.startswith(nct_id) else f"{nct_id}: {text}"
        report.trials.append(outcome)
        if progress is not None:
            progress(done, len(nct_ids))
    report.requests = history.request_count - before
    return report


def _backfill_one(store: Store, history: History, outcome: TrialBackfill, now: datetime) -> None:
    """Plan (or resume) one trial's backfill and read what is left of it."""
    nct_id = outcome.nct_id
    plan = store.backfill_plan(nct_id)
    if plan is not None and plan.finished:
        outcome.done = True
        return
    entries = history.history_index(nct_id)
    if plan is None:
        plan = _plan(store, history, entries, outcome, now)
    elif plan.last >= len(entries):
        raise HistoryUnavailable(nct_id, f"the registry now lists fewer versions ({len(entries)})")
    anchor = store.version(nct_id, plan.anchor)
    assert anchor is not None  # stored before the plan, or with it
    kept = _kept(store, plan)
    for number in range(plan.next, plan.last):
        entry = entries[number]
        raw = history.history_version(nct_id, number)
        outcome.fetched += 1
        if missing_parts(raw):  # an old record without a part every record has: passed over
            plan = store.save_historical(plan, number, now, new=None)
            outcome.skipped += 1
            continue
        raw = clean_record(raw)
        digest = content_hash(raw)
        if anchor.source == "poll" and digest == anchor.content_hash:
            outcome.skipped += 1  # the first polled version itself, earlier than its date says
            _finish(store, plan, kept, anchor, now, entry)
            outcome.done = True
            return
        if kept is not None and digest == kept[0]:
            plan = store.save_historical(plan, number, now, new=None)
            outcome.skipped += 1
            continue
        trial = parse_trial(raw)
        new = _new_version(nct_id, raw, digest, None if kept is None else kept[2], trial)
        plan = store.save_historical(
            plan,
            number,
            now,
            new=new,
            previous=None if kept is None else kept[1],
            day=entry.date,
            at=_registry_day(entry.date),
        )
        outcome.stored += 1
        kept = (digest, raw, trial)
    matched = None
    if anchor.source == "poll" and plan.last >= 0:
        # The registry's last version by the first poll's day is the polled one: read to mark
        # it as that version when the content is the same, never stored twice.
        raw = clean_record(history.history_version(nct_id, plan.last))
        outcome.fetched += 1
        outcome.skipped += 1
        if content_hash(raw) == anchor.content_hash:
            matched = entries[plan.last]
    _finish(store, plan, kept, anchor, now, matched)
    outcome.done = True


def _plan(
    store: Store,
    history: History,
    entries: Sequence[HistoryEntry],
    outcome: TrialBackfill,
    now: datetime,
) -> BackfillPlan:
    """The versions to read and their numbers; a trial with nothing stored gets the registry's
    newest version first (one more request), in the plan's transaction."""
    nct_id = outcome.nct_id
    first = store.first_version(nct_id)
    if first is not None:
        polled_on = first.fetched_at[:10]
        last = max((e.version for e in entries if e.date <= polled_on), default=-1)
        return store.plan_backfill(
            nct_id, last=last, offset=first.version - last, anchor=first.version, now=now
        )
    newest = entries[-1]
    raw = history.history_version(nct_id, newest.version)
    outcome.fetched += 1
    missing = missing_parts(raw)
    if missing:
        raise HistoryUnavailable(
            nct_id, f"its newest version is incomplete (no {', '.join(missing)})"
        )
    raw = clean_record(raw)
    plan = store.plan_backfill(
        nct_id,
        last=newest.version,
        offset=1,
        anchor=newest.version + 1,
        now=now,
        latest=(NewVersion.of(nct_id, raw, content_hash(raw)), newest.version, newest.date),
    )
    outcome.stored += 1
    return plan


Kept = tuple[str, dict[str, Any], Trial]  # the last stored version: its hash, record, trial


def _kept(store: Store, plan: BackfillPlan) -> Kept | None:
    """The last version this backfill stored (read back when it resumes), if any."""
    if plan.previous is None:
        return None
    row = store.version(plan.nct_id, plan.previous)
    assert row is not None  # stored with the plan's progress
    raw = clean_record(store.record(plan.nct_id, plan.previous))
    return row.content_hash, raw, parse_trial(raw)


def _finish(
    store: Store,
    plan: BackfillPlan,
    kept: Kept | None,
    anchor: VersionRow,
    now: datetime,
    matched: HistoryEntry | None,
) -> None:
    """Join the last stored version to the anchor with the changes between them, dated by the
    anchor's registry date (the matched version's, its own, or its update date)."""
    link = None
    if kept is not None and kept[0] != anchor.content_hash:
        raw = clean_record(store.record(plan.nct_id, plan.anchor))
        new = _new_version(plan.nct_id, raw, anchor.content_hash, kept[2], parse_trial(raw))
        day = (
            (matched.date if matched else None)
            or anchor.registry_date
            or anchor.last_update_posted
            or anchor.fetched_at[:10]
        )
        link = (new.changes, new.sentences, _registry_day(day))
    store.finish_backfill(
        plan,
        now,
        link=link,
        matched=None if matched is None else (matched.version, matched.date),
    )


def _new_version(
    nct_id: str, raw: dict[str, Any], digest: str, before: Trial | None, trial: Trial
) -> NewVersion:
    """The version with its changes from `before`, worded as the poll words them."""
    changes = diff_trials(before, trial) if before is not None else []
    return NewVersion.of(nct_id, raw, digest, changes, [change_sentence(c) for c in changes])


def _registry_day(day: str) -> datetime:
    """A registry date (an ISO day, or a month) as the moment a historical change is dated."""
    return datetime.fromisoformat(day if len(day) > len("2025-05") else f"{day}-01").replace(
        tzinfo=UTC
    )


def backfill_trials(
    store: Store,
    settings: Settings,
    nct_ids: Sequence[str],
    now: datetime,
    *,
    progress: Progress | None = None,
) -> BackfillReport:
    """`backfill` with the clients the settings describe: the history client shares the API v2
    client's politeness limit (`[registry].requests_per_minute`)."""
    with registry_client(settings) as registry, history_client(settings, registry) as history:
        return backfill(store, history, nct_ids, now, progress=progress)
