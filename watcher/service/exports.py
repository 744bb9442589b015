"""What coordinators take away: the trials' list and the changes since a date, as rows.

One function per export, shared by `trialwatch export …` and the API (`web/api.py`), so the
command line's CSV or JSON and `/api/v1/…?format=csv` are the same data: `trial_summaries`
(status, sites recruiting, last change, health), `change_page` (changes found since a moment,
in id order, one page at a time) and `trials_opml` (every trial's feed, for a feed reader).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from watcher.config import Settings
from watcher.config.values import parse_duration
from watcher.core.change import StoredChange
from watcher.core.clean import clean_record
from watcher.core.opml import FeedLink, opml
from watcher.core.record import Trial, parse_trial
from watcher.core.subscriptions import parse_kinds
from watcher.errors import InputError
from watcher.store.database import Store
from watcher.store.rows import TrialRow

MAX_PAGE = 1000  # changes in one page of the API; the command line pages through them all
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_since(text: str, now: datetime, name: str = "--since") -> datetime:
    """A moment from "2026-11-24" (that day, UTC), an ISO date-time with its zone, or a
    duration back from now ("7d", "36h"); anything else is one `InputError` naming `name`."""
    typed = text.strip()
    try:
        if _DAY.fullmatch(typed):
            return datetime.combine(date.fromisoformat(typed), time(), UTC)
        if "T" in typed:
            moment = datetime.fromisoformat(typed)
            if moment.tzinfo is None:
                raise ValueError("no time zone")
            return moment.astimezone(UTC)
        return now - parse_duration(typed)
    except ValueError:
        raise InputError(
            f"{name}: {typed!r} is not a date or a duration; write 2026-11-24, "
            "2026-11-24T09:00:00Z or 7d"
        ) from None


def parse_change_kinds(text: str | None, name: str = "--kind") -> tuple[str, ...]:
    """`status,sites` → the kinds, sorted; empty or None: every kind."""
    try:
        kinds = parse_kinds(text)
    except InputError as exc:
        raise InputError(f"{name}: {exc}") from None
    return tuple(sorted(kinds or ()))


def health(row: TrialRow, failing_after: int) -> str:
    """The trial's health in one word: "not checked yet", "ok", "retrying" (its last checks
    failed, fewer than `[schedule].failing_after` of them) or "failing"."""
    if row.last_checked_at is None:
        return "not checked yet"
    if row.consecutive_failures == 0:
        return "ok"
    return "failing" if row.consecutive_failures >= failing_after else "retrying"


def parsed(record: dict[str, Any]) -> Trial:
    """A stored record's watched fields, read as the poll reads a record."""
    return parse_trial(clean_record(record))


def parsed_version(store: Store, nct_id: str, version: int) -> Trial:
    """The trial as one stored version has it."""
    return parsed(store.record(nct_id, version))


def trial_summary(
    store: Store, settings: Settings, row: TrialRow, last_change: str | None
) -> dict[str, Any]:
    """One trial as the API's `Trial` object and one row of `export trials`."""
    sites = None
    if row.current_version is not None:  # checked at least once
        sites = parsed_version(store, row.nct_id, row.current_version).sites
    return {
        "nct_id": row.nct_id,
        "title": row.brief_title,
        "overall_status": row.overall_status,
        "sites_recruiting": None if sites is None else sum(s.status == "RECRUITING" for s in sites),
        "sites": None if sites is None else len(sites),
        "last_change": last_change,
        "last_update_posted": row.last_update_posted,
        "last_checked_at": row.last_checked_at,
        "health": health(row, settings.schedule.failing_after),
        "consecutive_failures": row.consecutive_failures,
        "last_error": row.last_error,
        "versions": row.current_version or 0,
    }


def trial_summaries(store: Store, settings: Settings) -> Iterator[dict[str, Any]]:
    """Every watched trial's summary, in NCT ID order. Each reads its newest version (for its
    sites): about a millisecond a trial."""
    last = store.last_changes()
    for row in store.each_trial():
        yield trial_summary(store, settings, row, last.get(row.nct_id))


def trial_fields(trial: Trial) -> dict[str, Any]:
    """The parsed fields of a version, as JSON (what `parse_trial` reads, in its names)."""
    return {
        f.name: _json(getattr(trial, f.name))
        for f in dataclasses.fields(trial)
        if f.name != "remainder"
    }


def _json(value: Any) -> Any:
    if hasattr(value, "to_json"):
        return value.to_json()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _json(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.name.startswith("_")
        }
    if isinstance(value, tuple | list):
        return [_json(v) for v in value]
    return value


def change_json(stored: StoredChange) -> dict[str, Any]:
    """One stored change as the API's `Change` object and an item of `export changes`."""
    return {
        "id": stored.id,
        "nct_id": stored.nct_id,
        "from_version": stored.from_version,
        "to_version": stored.to_version,
        "detected_at": stored.detected_at,
        "sentence": stored.sentence,
        **stored.change.to_dict(),
    }


@dataclass(frozen=True, slots=True)
class ChangePage:
    """One page of changes, and the id to continue after (None: this was the last page)."""

    changes: tuple[StoredChange, ...]
    next_after: int | None


def change_page(
    store: Store, since: datetime, kinds: Sequence[str], after: int, limit: int
) -> ChangePage:
    """The changes found at or after `since`, of `kinds` (empty: all), after id `after`."""
    rows = store.changes_page(since, kinds, after, limit + 1)
    page = tuple(rows[:limit])
    return ChangePage(page, page[-1].id if len(rows) > limit else None)


def all_changes(store: Store, since: datetime, kinds: Sequence[str]) -> Iterator[StoredChange]:
    """Every change `change_page` would give, page after page (`export changes`)."""
    after: int | None = 0
    while after is not None:
        page = change_page(store, since, kinds, after, MAX_PAGE)
        yield from page.changes
        after = page.next_after


def trials_opml(store: Store, base_url: str, now: datetime) -> bytes:
    """Every watched trial's Atom feed under `base_url` (where the site is served), as OPML."""
    feeds = [
        FeedLink(
            f"{row.nct_id}: {row.brief_title or 'not checked yet'}",
            f"{base_url}/feeds/trials/{row.nct_id}.atom",
            f"{base_url}/trials/{row.nct_id}",
        )
        for row in store.each_trial()
    ]
    return opml("Trials watched by trialwatch", feeds, now)
