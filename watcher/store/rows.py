"""What the store hands back, as plain frozen rows, and how Python values map to SQL columns.

Kept apart from `Store` so the mapping of one table's columns is written once, next to the
dataclass it fills, and reading code (status, CLI) can name these types without the store.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watcher.core.canonical import Stamp
from watcher.core.change import Change, StoredChange


@dataclass(frozen=True, slots=True)
class TrialRow:
    """One watched (or formerly watched) trial and its health."""

    nct_id: str
    watched: bool
    added_at: str
    every_s: int | None
    current_version: int | None
    brief_title: str | None
    overall_status: str | None
    last_update_posted: str | None
    last_checked_at: str | None
    last_success_at: str | None
    seen_release: str | None
    consecutive_failures: int
    last_error: str | None
    last_full_at: str | None = None  # the whole record last fetched and compared

    @property
    def stamp(self) -> Stamp:
        """The light fields last seen for this trial."""
        return Stamp(self.nct_id, self.last_update_posted, self.overall_status)


@dataclass(frozen=True, slots=True)
class VersionRow:
    """A stored version's facts; `Store.record()` rebuilds its JSON (deltas need their chain)."""

    nct_id: str
    version: int
    fetched_at: str
    source: str
    last_update_posted: str | None
    content_hash: str
    registry_version: int | None = None  # its number in the registry's history, when known
    registry_date: str | None = None  # the registry's date of that version (ISO day)


@dataclass(frozen=True, slots=True)
class BackfillPlan:
    """A trial's backfill from the registry's history, as planned and as far as it got.

    Registry version `last` is the stored version `anchor` (`last + offset`); those before it
    are stored as `registry_version + offset`, below it. `next` is the registry version to
    read next, `previous` the stored number of the last one kept (what the next is diffed with).
    """

    nct_id: str
    last: int
    offset: int
    anchor: int
    next: int
    previous: int | None
    started_at: str
    finished_at: str | None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A queued message as the deliver step sees it."""

    id: int
    key: str
    channel: str
    recipient: str
    subject: str
    body: bytes
    attempts: int


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def token_hash(token: str) -> str:
    """What the database keeps to find a token by: its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def version_row(row: dict[str, Any]) -> VersionRow:
    return VersionRow(**{k: row[k] for k in VersionRow.__slots__})


def backfill_plan(row: dict[str, Any]) -> BackfillPlan:
    return BackfillPlan(**{k: row[k] for k in BackfillPlan.__slots__})


def change_row(
    nct_id: str, from_version: int, to_version: int, seq: int, change: Change, now: datetime
) -> dict[str, Any]:
    data = change.to_dict()
    return {
        "nct_id": nct_id,
        "from_version": from_version,
        "to_version": to_version,
        "seq": seq,
        "kind": data["kind"],
        "field": data["field"],
        "severity": data["severity"],
        "old": dumps(data.get("old")),
        "new": dumps(data.get("new")),
        "site": dumps(data.get("site")),
        "detail": dumps(data.get("detail")),
        "detected_at": iso(now),
    }


def stored_change(row: dict[str, Any]) -> StoredChange:
    data: dict[str, Any] = {
        "kind": row["kind"],
        "field": row["field"],
        "severity": row["severity"],
        "old": loads(row["old"]),
        "new": loads(row["new"]),
    }
    for optional in ("site", "detail"):
        if row[optional] is not None:
            data[optional] = loads(row[optional])
    return StoredChange(
        id=row["id"],
        nct_id=row["nct_id"],
        from_version=row["from_version"],
        to_version=row["to_version"],
        detected_at=row["detected_at"],
        change=Change.from_dict(data),
        sentence=row.get("sentence"),
    )
