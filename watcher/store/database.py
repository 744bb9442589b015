"""The `Store`: every read and write of the trialwatch database.

The store is one object on one connection, because a method that writes several tables (a
version, its changes, the messages they cause) must do it in one transaction. Its methods are
grouped by the tables they serve, each group in its own module, stacked as base classes:
`connection` (opening, migrations, transactions, SQLite's errors, small key/value state),
`outbox` (queued messages and their claims), `subscribers` (subscriptions and digests),
`searches` (saved searches, their matches and subscribers), `confirmations` (web requests
waiting for their link), `api_keys` (the coordinators' API keys), and this module: watched
trials, their versions and changes, and what a check records. The schema is in
`migrations`, the returned rows in `rows`.

Why it looks like this:
- Every state change is one `atomic()` transaction, so a crash or kill at any point leaves
  either the whole new version (with its changes and the messages they cause) or none of it.
- Versions are append-only; a row is never rewritten, so any stored version stays readable.
- The store writes what it is handed (`NewVersion`, messages): it never reads a registry
  record's layout (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from watcher.core import codec
from watcher.core.canonical import Stamp
from watcher.core.change import Change, ChangeEvent, StoredChange
from watcher.core.message import Notices, Outgoing
from watcher.core.progress import Progress
from watcher.core.version import FirstVersion, NewVersion
from watcher.errors import StoreError
from watcher.store.api_keys import ApiKeyTables
from watcher.store.confirmations import ConfirmationTables
from watcher.store.rows import (
    BackfillPlan,
    TrialRow,
    VersionRow,
    backfill_plan,
    change_row,
    iso,
    stored_change,
    version_row,
)
from watcher.store.searches import SearchTables

# The last cycle that covered every watched trial and found no new data release: its release
# and time, as JSON (`Store.mark_quiet`).
META_QUIET = "poll.quiet"
# Trials (`t`) as `TrialRow` fields, in order, with when each was last checked: its own stamp,
# or the last quiet cycle's (`q`) when that is later and the trial had been checked against the
# release that cycle found still current. Named columns into tuples: twice as fast as dicts.
_QUIET = """LEFT JOIN (
    SELECT json_extract(value, '$.release') AS release, json_extract(value, '$.at') AS at
    FROM meta WHERE key = 'poll.quiet') q"""
_CHECKED_AT = """CASE WHEN t.seen_release = q.release AND q.at > COALESCE(t.last_checked_at, '')
                 THEN q.at ELSE t.last_checked_at END"""
_COLUMNS = ", ".join(
    _CHECKED_AT if f.name == "last_checked_at" else f"t.{f.name}" for f in fields(TrialRow)
)
_TRIALS = f"SELECT {_COLUMNS} FROM trials t {_QUIET}"  # noqa: S608 (constants of this module)
# The columns whose values repeat from trial to trial (the times of one cycle, a status, a data
# release): a read keeps one string per distinct value, not one per row, which is most of
# what 100,000 rows cost in memory.
_REPEATED = frozenset(
    {
        "added_at",
        "overall_status",
        "last_update_posted",
        "last_checked_at",
        "last_success_at",
        "seen_release",
        "last_error",
        "last_full_at",
    }
)
_SHARED = tuple(f.name in _REPEATED for f in fields(TrialRow))


@dataclass(frozen=True, slots=True)
class CycleRows:
    """What a cycle starts from (`Store.cycle_rows`)."""

    look: list[TrialRow]  # the trials it must look at, in NCT ID order
    passed: list[str]  # the rest: nothing can have changed for them since their last check
    latest_check: str | None  # the newest check time of any watched trial


@dataclass(frozen=True, slots=True)
class CheckGroup:
    """The watched trials on one interval, as their earliest check (`Watched` of
    `watcher.core.schedule`): the next due time of 100,000 trials is that of a few groups."""

    nct_id: str  # one of them, for the schedule's protocol
    every_s: int | None
    last_checked_at: str | None  # None when one of them was never checked


class Store(SearchTables, ConfirmationTables, ApiKeyTables):
    """A trialwatch database on disk."""

    # -- watched trials ---------------------------------------------------------------------

    def add_watches(
        self,
        nct_ids: Sequence[str],
        now: datetime,
        every: timedelta | None = None,
        progress: Progress | None = None,
    ) -> list[str]:
        """Start watching (in one transaction, `progress` told as IDs are done); returns the IDs
        that were not watched before, in the order given.

        The rows already known are read in one query and the rest written in two statements,
        so 100,000 IDs cost one pass, not a lookup and a write each."""
        every_s = int(every.total_seconds()) if every else None
        added: list[str] = []
        fresh: list[tuple[str, str, int | None]] = []
        moved: list[tuple[int | None, str]] = []
        with self.atomic() as db:
            known = self._known_trials(nct_ids)
            for done, nct_id in enumerate(nct_ids, 1):
                watched, was_every = known.get(nct_id, (None, None))
                if watched is None:
                    fresh.append((nct_id, iso(now), every_s))
                    added.append(nct_id)
                    known[nct_id] = (1, every_s)
                elif not watched or (every is not None and was_every != every_s):
                    if not watched:
                        added.append(nct_id)
                    moved.append((every_s if every is not None else was_every, nct_id))
                    known[nct_id] = (1, every_s if every is not None else was_every)
                if progress is not None:
                    progress(done, len(nct_ids))
            db.conn.executemany(
                "INSERT INTO trials (nct_id, watched, added_at, every_s) VALUES (?, 1, ?, ?)",
                fresh,
            )
            db.conn.executemany(
                "UPDATE trials SET watched = 1, every_s = ? WHERE nct_id = ?", moved
            )
        return added

    def remove_watches(self, nct_ids: Sequence[str]) -> list[str]:
        """Stop watching, keeping stored versions and changes; returns the IDs that were watched."""
        with self.atomic() as db:
            known = self._known_trials(nct_ids)
            removed = [n for n in dict.fromkeys(nct_ids) if known.get(n, (0, None))[0]]
            db.conn.executemany(
                "UPDATE trials SET watched = 0 WHERE nct_id = ?", [(n,) for n in removed]
            )
        return removed

    def _known_trials(self, nct_ids: Sequence[str]) -> dict[str, tuple[int | None, int | None]]:
        """(watched, every_s) of each of `nct_ids` that has a row, in one query."""
        rows = self.db.execute(
            """SELECT nct_id, watched, every_s FROM trials
               WHERE nct_id IN (SELECT value FROM json_each(?))""",
            [json.dumps(list(nct_ids))],
        )
        return {str(n): (w, e) for n, w, e in rows}

    def trial(self, nct_id: str) -> TrialRow | None:
        """The trial's row, watched or not; None when it was never watched."""
        return next(self._trial_rows("WHERE t.nct_id = ?", [nct_id]), None)

    def trials(self, *, watched_only: bool = True) -> list[TrialRow]:
        """Trials in NCT ID order."""
        return list(self.each_trial(watched_only=watched_only))

    def watched_among(self, nct_ids: Sequence[str]) -> Iterator[TrialRow]:
        """The watched trials among `nct_ids`, in NCT ID order, read in one query (the feeds
        of a cold start's thousands of new watches, not a query each)."""
        return self._trial_rows(
            "WHERE t.watched = 1 AND t.nct_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY t.nct_id",
            [json.dumps(list(nct_ids))],
        )

    def each_trial(self, *, watched_only: bool = True) -> Iterator[TrialRow]:
        """Trials in NCT ID order, one row at a time (a listing of 100,000 never holds them all)."""
        return self._trial_rows("WHERE t.watched = 1 OR ? ORDER BY t.nct_id", [not watched_only])

    def _trial_rows(self, where: str, params: Sequence[Any] | dict[str, Any]) -> Iterator[TrialRow]:
        """Trial rows, each with the time it was last checked, quiet cycles included."""
        seen: dict[Any, Any] = {}
        for row in self.db.execute(f"{_TRIALS} {where}", params):
            nct_id, watched, *rest = (
                seen.setdefault(value, value) if shared else value
                for value, shared in zip(row, _SHARED, strict=True)
            )
            yield TrialRow(nct_id, bool(watched), *rest)

    def check_groups(self) -> list[CheckGroup]:
        """For each interval watched trials are checked on, the one checked longest ago (one
        never checked first): what says when the next check falls due, in one aggregate."""
        rows = self.db.execute(
            f"""SELECT t.every_s, MIN(t.nct_id), MAX(({_CHECKED_AT}) IS NULL),
                       MIN({_CHECKED_AT}) FROM trials t {_QUIET}
                WHERE t.watched = 1 GROUP BY t.every_s"""  # noqa: S608 (constants)
        ).fetchall()
        return [
            CheckGroup(nct_id, every_s, None if never else at)
            for every_s, nct_id, never, at in rows
        ]

    def cycle_rows(
        self, release: str | None, success_after: datetime, full_after: datetime | None
    ) -> CycleRows:
        """The watched trials a cycle must look at, and only the IDs of the rest: those checked
        against `release` (still current), successfully after `success_after` and, when
        `full_after` is given, compared in full after it. At 100,000 trials with no new
        release nearly all are the rest, and a row each would cost more than the cycle."""
        rest = """t.watched = 1 AND COALESCE(t.current_version IS NOT NULL
            AND t.consecutive_failures = 0 AND t.seen_release = :release
            AND julianday(t.last_success_at) > julianday(:success)
            AND (:full IS NULL OR julianday(t.last_full_at) > julianday(:full)), 0)"""
        params = {
            "release": release,
            "success": iso(success_after),
            "full": None if full_after is None else iso(full_after),
        }
        # One scan says which is which; only the trials to look at are read whole. At 100,000
        # trials with no new release this is most of the cycle: the rule is evaluated once per
        # trial (not once to choose each side), in table order (the report sorts the rest).
        sides = self.db.execute(
            f"SELECT t.nct_id, {rest} FROM trials t WHERE t.watched = 1",  # noqa: S608
            params,
        ).fetchall()
        passed = [str(nct_id) for nct_id, rests in sides if rests]
        look_ids = [nct_id for nct_id, rests in sides if not rests]
        look = (
            list(
                self._trial_rows(
                    "WHERE t.watched = 1 AND t.nct_id IN (SELECT value FROM json_each(?)) "
                    "ORDER BY t.nct_id",
                    [json.dumps(look_ids)],
                )
            )
            if look_ids
            else []
        )
        latest = self.db.execute(
            f"SELECT MAX({_CHECKED_AT}) FROM trials t {_QUIET} WHERE t.watched = 1"  # noqa: S608
        ).fetchone()[0]
        return CycleRows(look, passed, latest)

    def watch_summary(self, failing_after: int) -> tuple[int, list[TrialRow]]:
        """How many trials are watched, and those whose last `failing_after` checks all failed:
        what `status` and the daemon's tick show, read without loading every trial."""
        count = self.watched_count()
        failing = self._trial_rows(
            "WHERE t.watched = 1 AND t.consecutive_failures >= ? ORDER BY t.nct_id",
            [failing_after],
        )
        return count, list(failing)

    def watched_count(self) -> int:
        """How many trials are watched (one indexed count, not a read of every row)."""
        return int(self.db.execute("SELECT COUNT(*) FROM trials WHERE watched = 1").fetchone()[0])

    # -- outcomes of a check ------------------------------------------------------------------

    def mark_unchanged(self, stamps: Sequence[Stamp], release: str | None, now: datetime) -> None:
        """Successful checks that found no new version: refresh stamps and health in one go."""
        with self.atomic() as db:
            db.conn.executemany(
                """UPDATE trials SET last_update_posted = ?, overall_status = ?, seen_release = ?,
                   last_checked_at = ?, last_success_at = ?, consecutive_failures = 0,
                   last_error = NULL WHERE nct_id = ?""",
                [
                    (
                        s.last_update_posted,
                        s.overall_status,
                        release,
                        iso(now),
                        iso(now),
                        s.nct_id,
                    )
                    for s in stamps
                ],
            )

    def record_failures(self, failures: Sequence[tuple[str, str]], now: datetime) -> None:
        """Failed checks (NCT ID, error): the trial's content and stamps are left as they were."""
        with self.atomic() as db:
            db.conn.executemany(
                """UPDATE trials SET consecutive_failures = consecutive_failures + 1,
                   last_error = ?, last_checked_at = ? WHERE nct_id = ?""",
                [(error, iso(now), nct_id) for nct_id, error in failures],
            )

    def save_version(
        self,
        new: NewVersion,
        previous: dict[str, Any] | None,
        release: str | None,
        now: datetime,
        *,
        source: str = "poll",
        notices: Notices | None = None,
    ) -> int:
        """Append a new version, its changes and the messages they cause, in one transaction.

        `previous` is the latest stored record (the caller has it for the diff already); the new
        version is stored as a delta against it, or as a keyframe when the chain is long.

        Another process may have stored a version since the caller read `previous`: when it is
        this very content (two checks fetched the same record), its number is returned and
        nothing is written, so the version and its messages exist once.
        """
        nct_id, stamp, changes, sentences = new.nct_id, new.stamp, new.changes, new.sentences
        with self.atomic() as db:
            trial = self._trial_dict(nct_id)
            if trial is None:
                raise StoreError(f"{nct_id} is not watched; add it with `trialwatch watch add`")
            prev_version = trial["current_version"]
            latest = None if prev_version is None else self.version(nct_id, prev_version)
            if latest is not None and latest.content_hash == new.content_hash:
                return latest.version
            version = (prev_version or 0) + 1
            if self._moved_on(prev_version, notices, first=previous is None):
                raise StoreError(
                    f"{nct_id}: version {version} was stored meanwhile by another trialwatch "
                    "process; this check is dropped and the next one picks the trial up"
                )
            name, blob = codec.encode(new.raw, previous, self._chain_length(nct_id))
            db.table("versions").insert(
                {
                    "nct_id": nct_id,
                    "version": version,
                    "fetched_at": iso(now),
                    "source": source,
                    "last_update_posted": stamp.last_update_posted,
                    "content_hash": new.content_hash,
                    "codec": name,
                    "raw": blob,
                }
            )
            if changes and prev_version is not None:
                db.table("changes").insert_all(
                    {
                        **change_row(nct_id, prev_version, version, seq, change, now),
                        "sentence": sentences[seq] if seq < len(sentences) else None,
                    }
                    for seq, change in enumerate(changes)
                )
            if notices is not None:
                self._enqueue(notices.messages, now)
                ids = [
                    r[0]
                    for r in db.execute(
                        "SELECT id FROM changes WHERE nct_id = ? AND to_version = ? ORDER BY seq",
                        [nct_id, version],
                    )
                ]
                db.conn.executemany(
                    "INSERT OR IGNORE INTO digest_items (subscription_id, change_id) VALUES (?, ?)",
                    [(sub, ids[i]) for sub, positions in notices.digests for i in positions],
                )
            db.table("trials").update(
                nct_id,
                {
                    "current_version": version,
                    "brief_title": new.title,
                    "overall_status": stamp.overall_status,
                    "last_update_posted": stamp.last_update_posted,
                    "seen_release": release,
                    "last_checked_at": iso(now),
                    "last_success_at": iso(now),
                    "consecutive_failures": 0,
                    "last_error": None,
                },
            )
        return version

    def save_first_versions(
        self, firsts: Sequence[FirstVersion], release: str | None, now: datetime
    ) -> list[FirstVersion]:
        """The first versions of new watches, in one transaction; returns those stored.

        A cold start stores thousands of them, and a commit each cost more than the rest of the
        work: the poll hands them over a page at a time. A trial that got a version meanwhile
        (from another process) is left to the next cycle, which compares it with that one.
        They come packed (`FirstVersion.of`), so the write lock is not held while a hundred
        keyframes are compressed.
        """
        with self.atomic() as db:
            known = dict(
                db.execute(
                    """SELECT nct_id, current_version FROM trials
                       WHERE nct_id IN (SELECT value FROM json_each(?))""",
                    [json.dumps([first.nct_id for first in firsts])],
                ).fetchall()
            )
            missing = [first.nct_id for first in firsts if first.nct_id not in known]
            if missing:
                raise StoreError(f"{missing[0]} is not watched; add it with `trialwatch watch add`")
            stored = [first for first in firsts if known[first.nct_id] is None]
            db.conn.executemany(
                """INSERT INTO versions (nct_id, version, fetched_at, source, last_update_posted,
                   content_hash, codec, raw) VALUES (?, 1, ?, 'poll', ?, ?, ?, ?)""",
                [
                    (
                        first.nct_id,
                        iso(now),
                        first.stamp.last_update_posted,
                        first.content_hash,
                        first.codec,
                        first.blob,
                    )
                    for first in stored
                ],
            )
            db.conn.executemany(
                """UPDATE trials SET current_version = 1, brief_title = ?, overall_status = ?,
                   last_update_posted = ?, seen_release = ?, last_checked_at = ?,
                   last_success_at = ?, consecutive_failures = 0, last_error = NULL
                   WHERE nct_id = ?""",
                [
                    (
                        first.title,
                        first.stamp.overall_status,
                        first.stamp.last_update_posted,
                        release,
                        iso(now),
                        iso(now),
                        first.nct_id,
                    )
                    for first in stored
                ],
            )
        return stored

    @staticmethod
    def _moved_on(stored: int | None, notices: Notices | None, first: bool) -> bool:
        """Whether another process stored a different version after the caller read the latest
        one: the messages would name the wrong number, a first version would be a second."""
        if notices is not None:
            return notices.version != (stored or 0) + 1
        return first and stored is not None

    # -- versions read from the registry's history (`service/backfill.py`) --------------------

    def backfill_plan(self, nct_id: str) -> BackfillPlan | None:
        """The trial's backfill as planned and as far as it got; None before the first one."""
        rows = list(self.db.query("SELECT * FROM backfills WHERE nct_id = ?", [nct_id]))
        return backfill_plan(rows[0]) if rows else None

    def first_version(self, nct_id: str) -> VersionRow | None:
        """The trial's oldest stored version (the first polled one, before any backfill)."""
        rows = list(
            self.db.query(
                "SELECT * FROM versions WHERE nct_id = ? ORDER BY version LIMIT 1", [nct_id]
            )
        )
        return version_row(rows[0]) if rows else None

    def plan_backfill(
        self,
        nct_id: str,
        *,
        last: int,
        offset: int,
        anchor: int,
        now: datetime,
        latest: tuple[NewVersion, int, str] | None = None,
    ) -> BackfillPlan:
        """Remember the plan (registry version `last` is the stored version `anchor`, those
        before it are stored as number + `offset`), in one transaction with, for a trial with
        nothing stored yet,
        `latest`: the registry's newest version (record, registry number, date), stored as
        `anchor` and made the trial's current version, so the next poll compares with it.

        A trial polled or planned by another process meanwhile is left alone: run it again.
        """
        packed = None if latest is None else self._packed(latest[0], None, anchor)
        with self.atomic() as db:
            if self.backfill_plan(nct_id) is not None:
                raise StoreError(f"{nct_id}: another backfill planned it meanwhile; run it again")
            first = self.first_version(nct_id)
            if (first is None) != (latest is not None) or (first and first.version != anchor):
                raise StoreError(
                    f"{nct_id}: a version was stored meanwhile by another trialwatch process; "
                    "run the backfill again"
                )
            if latest is not None and packed is not None:
                new, number, day = latest
                self._insert_version(new, packed, anchor, now, number, day)
                db.table("trials").update(
                    nct_id,
                    {
                        "current_version": anchor,
                        "brief_title": new.title,
                        "overall_status": new.stamp.overall_status,
                        "last_update_posted": new.stamp.last_update_posted,
                    },
                )
            db.table("backfills").insert(
                {
                    "nct_id": nct_id,
                    "last": last,
                    "offset": offset,
                    "anchor": anchor,
                    "next": 0,
                    "previous": None,
                    "started_at": iso(now),
                    "finished_at": None,
                }
            )
        plan = self.backfill_plan(nct_id)
        assert plan is not None  # just inserted
        return plan

    def save_historical(
        self,
        plan: BackfillPlan,
        number: int,
        now: datetime,
        *,
        new: NewVersion | None,
        previous: dict[str, Any] | None = None,
        day: str = "",
        at: datetime | None = None,
    ) -> BackfillPlan:
        """Registry version `number` of a planned backfill, in one transaction with the plan's
        progress: stored as `number + offset` with its changes from the version kept before
        (`previous`, its record), marked historical and dated `at` (the registry's date, `day`)
        when `new` is given; only passed over (`new` None: the same content as the one before,
        or a record that cannot be read) otherwise. Never any message: nobody is told."""
        nct_id = plan.nct_id
        stored = number + plan.offset
        # Encoded before the write lock is taken: a large record's delta takes a while.
        packed = None if new is None else self._packed(new, previous, stored)
        with self.atomic() as db:
            current = self.backfill_plan(nct_id)
            if current is None or current.next != number:
                raise StoreError(
                    f"{nct_id}: another backfill stored version {number} meanwhile; run it again"
                )
            kept = current.previous
            if new is not None and packed is not None:
                kept = stored
                self._insert_version(new, packed, kept, now, number, day)
                if current.previous is not None:
                    self._insert_historical_changes(
                        nct_id, current.previous, kept, new.changes, new.sentences, at or now
                    )
            db.table("backfills").update(nct_id, {"next": number + 1, "previous": kept})
        done = self.backfill_plan(nct_id)
        assert done is not None
        return done

    def finish_backfill(
        self,
        plan: BackfillPlan,
        now: datetime,
        *,
        link: tuple[Sequence[Change], Sequence[str], datetime] | None = None,
        matched: tuple[int, str] | None = None,
    ) -> None:
        """End a backfill, in one transaction: `link` (changes, sentences, date) are the
        changes from the last version kept to the anchor, stored historical; `matched` (registry
        number, date) says which registry version the anchor is (the same content)."""
        nct_id = plan.nct_id
        with self.atomic() as db:
            current = self.backfill_plan(nct_id)
            if current is None or current.finished:
                raise StoreError(f"{nct_id}: another backfill finished it meanwhile")
            if link is not None and current.previous is not None:
                changes, sentences, at = link
                self._insert_historical_changes(
                    nct_id, current.previous, plan.anchor, changes, sentences, at
                )
            if matched is not None:
                db.execute(
                    """UPDATE versions SET registry_version = ?, registry_date = ?
                       WHERE nct_id = ? AND version = ?""",
                    [matched[0], matched[1], nct_id, plan.anchor],
                )
            db.table("backfills").update(nct_id, {"finished_at": iso(now)})

    def _packed(
        self, new: NewVersion, previous: dict[str, Any] | None, version: int
    ) -> tuple[str, bytes]:
        """The codec and bytes of a version stored as `version`: a delta against `previous`,
        the record of the stored version below it, or a keyframe."""
        chain = 0 if previous is None else self._chain_length(new.nct_id, version - 1)
        return codec.encode(new.raw, previous, chain)

    def _insert_version(
        self,
        new: NewVersion,
        packed: tuple[str, bytes],
        version: int,
        now: datetime,
        registry_version: int,
        registry_date: str,
    ) -> None:
        """One version read from the history, as `_packed` encoded it."""
        name, blob = packed
        self.db.table("versions").insert(
            {
                "nct_id": new.nct_id,
                "version": version,
                "fetched_at": iso(now),
                "source": "history",
                "last_update_posted": new.stamp.last_update_posted,
                "content_hash": new.content_hash,
                "codec": name,
                "raw": blob,
                "registry_version": registry_version,
                "registry_date": registry_date,
            }
        )

    def _insert_historical_changes(
        self,
        nct_id: str,
        from_version: int,
        to_version: int,
        changes: Sequence[Change],
        sentences: Sequence[str],
        at: datetime,
    ) -> None:
        self.db.table("changes").insert_all(
            {
                **change_row(nct_id, from_version, to_version, seq, change, at),
                "sentence": sentences[seq] if seq < len(sentences) else None,
                "historical": 1,
            }
            for seq, change in enumerate(changes)
        )

    def _chain_length(self, nct_id: str, upto: int | None = None) -> int:
        """Deltas stored since the trial's latest keyframe (up to version `upto`, when given:
        backfilled versions are written below the polled ones)."""
        rows = self.db.execute(
            """SELECT COUNT(*) FROM versions WHERE nct_id = ? AND (version <= ? OR ? IS NULL)
               AND version > COALESCE((SELECT MAX(version) FROM versions WHERE nct_id = ?
                   AND codec = ? AND (version <= ? OR ? IS NULL)), -9223372036854775808)""",
            [nct_id, upto, upto, nct_id, codec.KEYFRAME, upto, upto],
        ).fetchone()
        return int(rows[0])

    # -- reading history ----------------------------------------------------------------------

    def versions(self, nct_id: str) -> list[VersionRow]:
        """All stored versions of a trial, oldest first."""
        return [
            version_row(r)
            for r in self.db.query(
                "SELECT * FROM versions WHERE nct_id = ? ORDER BY version", [nct_id]
            )
        ]

    def version(self, nct_id: str, version: int | None = None) -> VersionRow | None:
        """One version's facts (the latest when `version` is None)."""
        rows = list(
            self.db.query(
                """SELECT * FROM versions WHERE nct_id = ? AND (version = ? OR ? IS NULL)
                   ORDER BY version DESC LIMIT 1""",
                [nct_id, version, version],
            )
        )
        return version_row(rows[0]) if rows else None

    def record(self, nct_id: str, version: int) -> dict[str, Any]:
        """The study JSON of a stored version, as the registry served it."""
        rows = self.db.execute(
            """SELECT codec, raw FROM versions WHERE nct_id = ? AND version <= ? AND version >=
                   (SELECT MAX(version) FROM versions WHERE nct_id = ? AND version <= ?
                    AND codec = ?) ORDER BY version""",
            [nct_id, version, nct_id, version, codec.KEYFRAME],
        ).fetchall()
        if not rows:
            raise StoreError(f"{nct_id} has no stored version {version}")
        return codec.decode_chain([(name, bytes(blob)) for name, blob in rows])

    def changes(self, nct_id: str, to_version: int | None = None) -> list[StoredChange]:
        """Stored changes of a trial (of one version when given), in detection order."""
        sql = "SELECT * FROM changes WHERE nct_id = ?"
        params: list[Any] = [nct_id]
        if to_version is not None:
            sql += " AND to_version = ?"
            params.append(to_version)
        sql += " ORDER BY to_version, seq"
        return [stored_change(r) for r in self.db.query(sql, params)]

    def last_changes(self) -> dict[str, str]:
        """When each trial's newest change was found (`detected_at`), by NCT ID."""
        rows = self.db.execute(
            "SELECT nct_id, MAX(detected_at) FROM changes GROUP BY nct_id"
        ).fetchall()
        return {str(nct_id): str(at) for nct_id, at in rows}

    def change_events(
        self, nct_ids: Sequence[str] | None = None, limit: int = 50, *, history: bool = False
    ) -> list[ChangeEvent]:
        """Versions that brought changes (to some trials or all), newest first, at most `limit`;
        those read from the registry's history too when `history` (`[feeds].include_history`),
        and then newest is by the date each change happened: a backfill stores the past last.

        Read through an index, `(nct_id, id)` (m010) or `detected_at`: a trial's newest events
        cost its newest rows, and all trials' the newest rows of the table, however long the
        history.
        """
        at, newest = ("detected_at", "detected_at DESC, id DESC") if history else ("''", "id DESC")
        kept = "" if history else "AND historical = 0"
        query = (
            f"SELECT {at}, id, nct_id, to_version FROM changes "  # noqa: S608 (constants)
            f"WHERE {{}} {kept} ORDER BY {newest}"
        )
        if nct_ids is None:
            heads = self._newest_events(self.db.execute(query.format("1")), limit)
        else:
            heads = []
            for nct_id in dict.fromkeys(nct_ids):
                rows = self.db.execute(query.format("nct_id = ?"), [nct_id])
                heads += self._newest_events(rows, limit)
            heads = sorted(heads, reverse=True)[:limit]
        return self._change_events(heads)

    @staticmethod
    def _newest_events(
        rows: Iterable[tuple[str, int, str, int]], limit: int
    ) -> list[tuple[str, int, str, int]]:
        """The first `limit` distinct (trial, version) of change rows read newest first, each with
        its newest row's order (its date, when ordered by date, and id); the rest of the rows are
        never read."""
        seen: dict[tuple[str, int], tuple[str, int]] = {}
        for at, change_id, nct_id, version in rows:
            if (nct_id, version) not in seen:
                if len(seen) == limit:
                    break
                seen[nct_id, version] = (at, change_id)
        return [(*order, nct_id, version) for (nct_id, version), order in seen.items()]

    def _change_events(self, heads: Sequence[tuple[str, int, str, int]]) -> list[ChangeEvent]:
        """The versions `heads` names, each with its changes and what a feed entry shows about
        the version and trial: three queries a trial, not two a version (a release's feeds
        read 1,150 versions)."""
        versions: dict[str, list[int]] = {}
        for _, _, nct_id, version in heads:
            versions.setdefault(nct_id, []).append(version)
        found: dict[tuple[str, int], ChangeEvent] = {}
        for nct_id, numbers in versions.items():
            wanted = json.dumps(numbers)
            changes: dict[int, list[StoredChange]] = {}
            for row in self.db.query(
                """SELECT * FROM changes WHERE nct_id = ?
                   AND to_version IN (SELECT value FROM json_each(?)) ORDER BY to_version, seq""",
                [nct_id, wanted],
            ):
                change = stored_change(row)
                changes.setdefault(change.to_version, []).append(change)
            rows = self.db.execute(
                """SELECT v.version, v.content_hash, t.brief_title FROM versions v JOIN trials t
                   ON t.nct_id = v.nct_id WHERE v.nct_id = ?
                   AND v.version IN (SELECT value FROM json_each(?))""",
                [nct_id, wanted],
            )
            for version, digest, title in rows:
                kept = tuple(changes[version])
                at = min(c.detected_at for c in kept)
                found[nct_id, version] = ChangeEvent(nct_id, version, at, digest, title, kept)
        return [found[nct_id, version] for _, _, nct_id, version in heads]

    def changes_page(
        self, since: datetime, kinds: Sequence[str], after_id: int, limit: int
    ) -> list[StoredChange]:
        """Changes found at or after `since` (of these kinds; none: all), in id order, from just
        after `after_id`, at most `limit`: a page of `GET /api/v1/changes` and of `export
        changes`. Paging by id gives each change once, however many are stored meanwhile."""
        rows = self.db.query(
            """SELECT * FROM changes WHERE id > ? AND detected_at >= ?
               AND (? = '[]' OR kind IN (SELECT value FROM json_each(?)))
               ORDER BY id LIMIT ?""",
            [after_id, iso(since), json.dumps(list(kinds)), json.dumps(list(kinds)), limit],
        )
        return [stored_change(r) for r in rows]

    def changed_since(self, change_id: int) -> tuple[int, list[str]]:
        """The newest change id, and the trials with a change stored after `change_id`.

        Feeds use it to find what a killed or failed feed write left behind (`check_now`)."""
        newest = self.db.execute("SELECT COALESCE(MAX(id), 0) FROM changes").fetchone()[0]
        rows = self.db.execute(
            "SELECT DISTINCT nct_id FROM changes WHERE id > ? AND id <= ? ORDER BY nct_id",
            [change_id, newest],
        ).fetchall()
        return int(newest), [str(r[0]) for r in rows]

    def mark_quiet(self, release: str, now: datetime) -> None:
        """A cycle over every watched trial found the data release `release` still current, so
        each trial already checked against it counts as checked `now` (`_TRIALS`): one
        meta row is written, where `mark_skipped` would rewrite every trial's."""
        self.set_meta({META_QUIET: json.dumps({"release": release, "at": iso(now)})})

    def mark_skipped(self, nct_ids: Sequence[str], now: datetime) -> None:
        """Trials a cycle did not ask about, because the registry's data has not moved since.

        They count as checked (the daemon's schedule reads `last_checked_at`) but keep their
        `last_success_at`, the last time the registry answered for them: the safety-net full
        check is due `full_check_every` after that, however often cycles skip them.
        """
        with self.atomic() as db:
            db.conn.executemany(
                "UPDATE trials SET last_checked_at = ? WHERE nct_id = ?",
                [(iso(now), nct_id) for nct_id in nct_ids],
            )

    # -- registry faults and aliases (the poll's sanity checks) --------------------------------

    def move_watch(
        self, old: str, new: str, now: datetime, messages: Sequence[Outgoing] = ()
    ) -> None:
        """The registry now lists trial `old` as `new` (it answers 301 from one to the other).

        One transaction. When `new` is not known here, the trial's row, versions and changes
        move to `new` and the `old` row goes: it is one trial, with one history. When `new` is
        already known (watched under both IDs), its own history stays and `old` is kept,
        unwatched, with its history. Either way every subscription to `old` is re-pointed to
        `new` (a subscriber who already had `new` keeps that one). `messages` (telling them)
        are queued in the same transaction.
        """
        with self.atomic() as db:
            self._enqueue(messages, now)
            row = self._trial_dict(old)
            if row is None:
                raise StoreError(f"{old} is not watched")
            moving = self._trial_dict(new) is None
            if moving:
                db.table("trials").insert({**row, "nct_id": new})
                db.execute("UPDATE versions SET nct_id = ? WHERE nct_id = ?", [new, old])
                db.execute("UPDATE changes SET nct_id = ? WHERE nct_id = ?", [new, old])
                db.execute("UPDATE backfills SET nct_id = ? WHERE nct_id = ?", [new, old])
            else:
                db.table("trials").update(new, {"watched": 1})
            db.execute("UPDATE OR IGNORE subscriptions SET nct_id = ? WHERE nct_id = ?", [new, old])
            db.execute("DELETE FROM subscriptions WHERE nct_id = ?", [old])
            if moving:
                db.execute("DELETE FROM trials WHERE nct_id = ?", [old])
            else:
                db.table("trials").update(old, {"watched": 0})

    def mark_fully_compared(self, nct_ids: Sequence[str], now: datetime) -> None:
        """Trials whose whole record was fetched and compared with the stored one just now
        (whether or not it changed): the rolling full refresh counts from here."""
        with self.atomic() as db:
            db.conn.executemany(
                "UPDATE trials SET last_full_at = ? WHERE nct_id = ?",
                [(iso(now), nct_id) for nct_id in nct_ids],
            )
