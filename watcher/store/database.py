"""The `Store`: every read and write of the trialwatch database (with `migrations`, the only
SQLite user in the package).

It is one class of about 750 lines on purpose: every write shares one connection and its
transactions, and a method that writes several tables (a version, its changes, their messages)
must see them all. The schema is in `migrations`, the returned rows in `rows`.

Why it looks like this:
- Every state change is one `atomic()` transaction, so a crash or kill at any point leaves
  either the whole new version (with its changes and the messages they cause) or none of it.
- Each write transaction starts with `BEGIN IMMEDIATE`: it takes the write lock before its
  first read, so a second writer waits (the busy timeout) instead of failing the moment it
  tries to turn a read into a write, which under WAL is SQLITE_BUSY at once, timeout or not.
  The connection runs with `isolation_level=None` so Python never opens a deferred
  transaction of its own behind our back.
- Every SQLite failure becomes a one-line `StoreError` naming the file and what to do
  (`_unusable`): a write that waited too long, a read-only file, a full disk, an I/O error.
- Versions are append-only; a row is never rewritten, so any stored version stays readable.
- WAL mode and a busy timeout let the CLI read while the daemon writes, without "database is
  locked" reaching a user; two writers take turns.
- The outbox is drained by claims: a sender owns the rows it claimed until its lease ends, and
  records an outcome only while it still owns the row, so two senders never send one message
  and a `cancelled` row stays cancelled (`claim_due`, `hold`, `mark_*`).
- Tokens are found by their SHA-256 (`token_hash`), compared with `hmac.compare_digest`.
- A database made by a newer trialwatch (a migration unknown here) is refused, not damaged.
- The file is created private (0600) in a private directory: subscriber data lives here.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from watcher.core import codec
from watcher.core.canonical import Stamp
from watcher.core.change import ChangeEvent, StoredChange
from watcher.core.message import Notices, Outgoing
from watcher.core.subscriptions import Subscriber, Subscription
from watcher.core.version import NewVersion
from watcher.errors import StoreError
from watcher.store.migrations import migrations
from watcher.store.rows import (
    OutboxRow,
    TrialRow,
    VersionRow,
    change_row,
    iso,
    stored_change,
    token_hash,
    trial_row,
    version_row,
)

BUSY_TIMEOUT_MS = 10_000

# SQLite's primary result codes (the low byte of `sqlite_errorcode`) that `_unusable` words.
_BUSY, _LOCKED, _READONLY, _IOERR, _FULL, _CANTOPEN = 5, 6, 8, 10, 13, 14


def _unusable(path: Path, exc: sqlite3.Error) -> StoreError:
    """One line for a failed SQLite call: which file, what went wrong, what to do.

    The one place SQLite's errors are worded; the transaction that met it was rolled back.
    """
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code in (_BUSY, _LOCKED):
        return StoreError(
            f"{path}: waited {BUSY_TIMEOUT_MS // 1000} s for another trialwatch process to "
            "finish writing; nothing of this step was stored, run it again"
        )
    if code == _READONLY:
        return StoreError(
            f"{path}: the database is read-only ({exc}); give the user running trialwatch "
            "write access to the file and its folder"
        )
    if code == _FULL:
        return StoreError(
            f"{path}: the disk is full; nothing of this step was stored, free some space and "
            "run it again"
        )
    if code == _CANTOPEN:
        return StoreError(
            f"{path}: cannot open the database ({exc}); the user running trialwatch needs to "
            "write to the file and to its folder (SQLite keeps its -wal and -shm files there)"
        )
    if code == _IOERR:
        return StoreError(
            f"{path}: the disk failed to read or write the database ({exc}); check the disk "
            "and the file system, then run it again"
        )
    return StoreError(
        f"{path}: cannot use this database ({exc}); check the path in [storage].database "
        "or move the file aside to start a new one"
    )


class Store:
    """A trialwatch database on disk."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        """Open the database at `path`; when it is missing, create it (and its folder) only if
        `create`: a running daemon passes False, so a deleted state directory is an error
        rather than a fresh, empty database."""
        self.path = path
        if not create and not path.exists():
            raise StoreError(
                f"{path}: the database is gone (was the state directory deleted?); put it back "
                "from a backup, or restart trialwatch to begin a new one"
            )
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not path.exists():
                # Create the file ourselves so it is private from the first byte; SQLite gives
                # its -wal and -shm files the same mode.
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            # The file this Store uses, for a daemon to notice it deleted or replaced later:
            # SQLite keeps writing to an unlinked file, and the next Store would start afresh.
            self.inode = path.stat().st_ino
            conn = sqlite3.connect(
                path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                check_same_thread=False,
                isolation_level=None,
            )
            self.db = sqlite_utils.Database(conn)
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.Error as exc:
            raise _unusable(path, exc) from exc
        except OSError as exc:
            raise StoreError(
                f"{path}: cannot create or open the database ({exc.strerror}); check the path "
                "in [storage].database and its permissions"
            ) from exc

    def _migrate(self) -> None:
        """Apply what is pending, under the write lock: two processes starting on a new file
        take turns, and the second finds the work done."""
        self._refuse_newer()
        if not migrations.pending(self.db):
            return  # the usual case, and it needs no write access
        if self.db.journal_mode != "wal":
            self.db.enable_wal()
        with self.atomic():
            self._refuse_newer()
            migrations.apply(self.db)

    def _refuse_newer(self) -> None:
        known = {m.name for m in migrations._migrations}
        applied = {m.name for m in migrations.applied(self.db)}
        if applied - known:
            raise StoreError(
                f"{self.path}: this database was written by a newer trialwatch "
                f"(unknown migrations: {', '.join(sorted(applied - known))}); upgrade trialwatch"
            )

    def close(self) -> None:
        """Close the connection (a checkpoint folds the WAL back into the file)."""
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        """Close; a SQLite failure in the block (a read, say) leaves as a one-line `StoreError`."""
        self.close()
        if isinstance(exc, sqlite3.Error):
            raise _unusable(self.path, exc) from exc

    @contextmanager
    def atomic(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction: all of it is committed, or none of it.

        The outermost one begins IMMEDIATE (waiting up to the busy timeout for the write lock);
        a nested one is a savepoint inside it. Any SQLite failure leaves as a `StoreError`.
        """
        conn = self.db.conn
        if conn.in_transaction:
            with self.db.atomic() as db:  # a savepoint
                yield db
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _unusable(self.path, exc) from exc
        try:
            yield self.db
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise _unusable(self.path, exc) from exc
            raise

    # -- watched trials ---------------------------------------------------------------------

    def add_watches(
        self, nct_ids: Sequence[str], now: datetime, every: timedelta | None = None
    ) -> list[str]:
        """Start watching; returns the IDs that were not watched before."""
        added: list[str] = []
        every_s = int(every.total_seconds()) if every else None
        with self.atomic() as db:
            for nct_id in nct_ids:
                row = self._trial_dict(nct_id)
                if row is None:
                    db.table("trials").insert(
                        {"nct_id": nct_id, "watched": 1, "added_at": iso(now), "every_s": every_s}
                    )
                    added.append(nct_id)
                elif not row["watched"] or (every is not None and row["every_s"] != every_s):
                    if not row["watched"]:
                        added.append(nct_id)
                    update: dict[str, Any] = {"watched": 1}
                    if every is not None:
                        update["every_s"] = every_s
                    db.table("trials").update(nct_id, update)
        return added

    def remove_watches(self, nct_ids: Sequence[str]) -> list[str]:
        """Stop watching, keeping stored versions and changes; returns the IDs that were watched."""
        removed: list[str] = []
        with self.atomic() as db:
            for nct_id in nct_ids:
                row = self._trial_dict(nct_id)
                if row is not None and row["watched"]:
                    db.table("trials").update(nct_id, {"watched": 0})
                    removed.append(nct_id)
        return removed

    def _trial_dict(self, nct_id: str) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM trials WHERE nct_id = ?", [nct_id]))
        return rows[0] if rows else None

    def trial(self, nct_id: str) -> TrialRow | None:
        """The trial's row, watched or not; None when it was never watched."""
        row = self._trial_dict(nct_id)
        return trial_row(row) if row else None

    def trials(self, *, watched_only: bool = True) -> list[TrialRow]:
        """Trials in NCT ID order."""
        sql = "SELECT * FROM trials WHERE watched = 1 OR ? ORDER BY nct_id"
        return [trial_row(r) for r in self.db.query(sql, [not watched_only])]

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

    @staticmethod
    def _moved_on(stored: int | None, notices: Notices | None, first: bool) -> bool:
        """Whether another process stored a different version after the caller read the latest
        one: the messages would name the wrong number, a first version would be a second."""
        if notices is not None:
            return notices.version != (stored or 0) + 1
        return first and stored is not None

    def _chain_length(self, nct_id: str) -> int:
        """Deltas stored since the trial's latest keyframe."""
        rows = self.db.execute(
            """SELECT COUNT(*) FROM versions WHERE nct_id = ? AND version > COALESCE(
                   (SELECT MAX(version) FROM versions WHERE nct_id = ? AND codec = ?), 0)""",
            [nct_id, nct_id, codec.KEYFRAME],
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

    def change_events(
        self, nct_ids: Sequence[str] | None = None, limit: int = 50
    ) -> list[ChangeEvent]:
        """Versions that brought changes (to some trials or all), newest first, at most `limit`."""
        wanted = None if nct_ids is None else json.dumps(list(nct_ids))
        heads = self.db.execute(
            """SELECT c.nct_id, c.to_version, MIN(c.detected_at), v.content_hash, t.brief_title
               FROM changes c
               JOIN versions v ON v.nct_id = c.nct_id AND v.version = c.to_version
               JOIN trials t ON t.nct_id = c.nct_id
               WHERE ? IS NULL OR c.nct_id IN (SELECT value FROM json_each(?))
               GROUP BY c.nct_id, c.to_version
               ORDER BY MIN(c.id) DESC LIMIT ?""",
            [wanted, wanted, limit],
        ).fetchall()
        return [
            ChangeEvent(nct, version, at, digest, title, tuple(self.changes(nct, version)))
            for nct, version, at, digest, title in heads
        ]

    def changed_since(self, change_id: int) -> tuple[int, list[str]]:
        """The newest change id, and the trials with a change stored after `change_id`.

        Feeds use it to find what a killed or failed feed write left behind (`check_now`)."""
        newest = self.db.execute("SELECT COALESCE(MAX(id), 0) FROM changes").fetchone()[0]
        rows = self.db.execute(
            "SELECT DISTINCT nct_id FROM changes WHERE id > ? AND id <= ? ORDER BY nct_id",
            [change_id, newest],
        ).fetchall()
        return int(newest), [str(r[0]) for r in rows]

    # -- subscribers and subscriptions ------------------------------------------------------------

    def subscribe(
        self,
        email: str,
        nct_ids: Sequence[str],
        now: datetime,
        *,
        audience: str = "patient",
        delivery: str = "immediate",
        kinds: frozenset[str] | None = None,
        near: str | None = None,
    ) -> Subscriber:
        """Create or update `email`'s subscriptions to these (watched) trials."""
        with self.atomic() as db:
            not_watched = [n for n in nct_ids if not (t := self._trial_dict(n)) or not t["watched"]]
            if not_watched:
                raise StoreError(
                    f"not watched: {', '.join(not_watched)}; add them first with "
                    f"`trialwatch watch add {' '.join(not_watched)}`"
                )
            subscriber = self.subscriber(email=email)
            if subscriber is None:
                unsubscribe_token = secrets.token_urlsafe(32)
                feed_token = secrets.token_urlsafe(32)
                db.table("subscribers").insert(
                    {
                        "email": email,
                        "unsubscribe_token": unsubscribe_token,
                        "feed_token": feed_token,
                        "unsubscribe_hash": token_hash(unsubscribe_token),
                        "feed_hash": token_hash(feed_token),
                        "created_at": iso(now),
                    }
                )
                subscriber = self.subscriber(email=email)
                assert subscriber is not None  # inserted just above, in this transaction
            for nct_id in nct_ids:
                db.table("subscriptions").upsert(
                    {
                        "subscriber_id": subscriber.id,
                        "nct_id": nct_id,
                        "audience": audience,
                        "delivery": delivery,
                        "kinds": ",".join(sorted(kinds)) if kinds is not None else None,
                        "near": near,
                        "created_at": iso(now),
                    },
                    pk=("subscriber_id", "nct_id"),
                )
        return subscriber

    def unsubscribe(self, subscriber: Subscriber, nct_ids: Sequence[str] | None = None) -> int:
        """End some (or all) of a subscriber's subscriptions; returns how many ended.

        When none is left, the subscriber is forgotten: the row goes, and their address is
        scrubbed from the outbox (queued messages to them are cancelled, not sent; a drain that
        has already claimed one finds it cancelled when it renews its claim, and skips it).
        """
        with self.atomic() as db:
            if nct_ids is None:
                ended = db.execute(
                    "DELETE FROM subscriptions WHERE subscriber_id = ?", [subscriber.id]
                ).rowcount
            else:
                ended = sum(
                    db.execute(
                        "DELETE FROM subscriptions WHERE subscriber_id = ? AND nct_id = ?",
                        [subscriber.id, nct_id],
                    ).rowcount
                    for nct_id in nct_ids
                )
            left = db.execute(
                "SELECT COUNT(*) FROM subscriptions WHERE subscriber_id = ?", [subscriber.id]
            ).fetchone()[0]
            if not left:
                db.execute(
                    """UPDATE outbox SET status = CASE status WHEN 'pending' THEN 'cancelled'
                       ELSE status END, recipient = '(unsubscribed)', body = X'',
                       subscriber_id = NULL WHERE subscriber_id = ?""",
                    [subscriber.id],
                )
                db.execute("DELETE FROM subscribers WHERE id = ?", [subscriber.id])
        return int(ended)

    def subscriber(
        self, *, email: str | None = None, token: str | None = None
    ) -> Subscriber | None:
        """Find a subscriber by address or by unsubscribe token.

        A token is looked up by its hash, and the stored token is then compared in constant
        time: neither the index walk nor the comparison tells a guesser how close they came.
        """
        row = self.db.execute(
            """SELECT id, email, unsubscribe_token, feed_token FROM subscribers
               WHERE email = ? OR unsubscribe_hash = ?""",
            [email, None if token is None else token_hash(token)],
        ).fetchone()
        if row is None:
            return None
        person = Subscriber(*row)
        if token is not None and not hmac.compare_digest(
            person.unsubscribe_token.encode("utf-8"), token.encode("utf-8")
        ):
            return None
        return person

    def subscriptions(
        self, *, nct_id: str | None = None, subscriber_id: int | None = None
    ) -> list[tuple[Subscriber, Subscription]]:
        """Subscriptions with their subscriber, filtered by trial and/or subscriber."""
        rows = self.db.execute(
            """SELECT s.id, s.email, s.unsubscribe_token, s.feed_token,
                      p.id, p.subscriber_id, p.nct_id, p.audience, p.delivery, p.kinds, p.near
               FROM subscriptions p JOIN subscribers s ON s.id = p.subscriber_id
               WHERE (p.nct_id = ? OR ? IS NULL) AND (p.subscriber_id = ? OR ? IS NULL)
               ORDER BY s.email, p.nct_id""",
            [nct_id, nct_id, subscriber_id, subscriber_id],
        ).fetchall()
        return [
            (
                Subscriber(*r[:4]),
                Subscription(
                    id=r[4],
                    subscriber_id=r[5],
                    nct_id=r[6],
                    audience=r[7],
                    delivery=r[8],
                    kinds=frozenset(r[9].split(",")) if r[9] is not None else None,
                    near=r[10],
                ),
            )
            for r in rows
        ]

    # -- digests ----------------------------------------------------------------------------------

    def pending_digests(
        self, delivery: str
    ) -> list[tuple[Subscriber, list[tuple[Subscription, StoredChange]]]]:
        """Changes waiting for each subscriber's daily or weekly digest, oldest first."""
        waiting = self.db.execute(
            """SELECT d.subscription_id, d.change_id FROM digest_items d
               JOIN subscriptions p ON p.id = d.subscription_id
               WHERE p.delivery = ? ORDER BY d.change_id""",
            [delivery],
        ).fetchall()
        if not waiting:
            return []
        subscriptions = {sub.id: (person, sub) for person, sub in self.subscriptions()}
        by_person: dict[int, tuple[Subscriber, list[tuple[Subscription, StoredChange]]]] = {}
        for subscription_id, change_id in waiting:
            person, sub = subscriptions[subscription_id]
            (row,) = self.db.query("SELECT * FROM changes WHERE id = ?", [change_id])
            by_person.setdefault(person.id, (person, []))[1].append((sub, stored_change(row)))
        return list(by_person.values())

    def save_digest(
        self,
        message: Outgoing | None,
        items: Sequence[tuple[Subscription, StoredChange]],
        now: datetime,
    ) -> None:
        """Queue a digest and consume the changes it carries, in one transaction.

        `message` is None when nothing in `items` matters to the reader: they are consumed all
        the same, so they do not wait forever.
        """
        with self.atomic() as db:
            if message is not None:
                self._enqueue([message], now)
            db.conn.executemany(
                "DELETE FROM digest_items WHERE subscription_id = ? AND change_id = ?",
                [(sub.id, change.id) for sub, change in items],
            )

    # -- the outbox -------------------------------------------------------------------------------

    def enqueue(self, messages: Sequence[Outgoing], now: datetime) -> None:
        """Queue messages (alone; with a version, `save_version` queues them in its transaction)."""
        with self.atomic():
            self._enqueue(messages, now)

    def _enqueue(self, messages: Sequence[Outgoing], now: datetime) -> None:
        self.db.conn.executemany(
            """INSERT INTO outbox (key, channel, subscriber_id, recipient, subject, body,
                                   next_attempt_at, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING""",
            [
                (
                    m.key,
                    m.channel,
                    m.subscriber_id,
                    m.recipient,
                    m.subject,
                    m.body,
                    iso(now),
                    iso(now),
                )
                for m in messages
            ],
        )

    def claim_due(
        self, now: datetime, owner: str, *, at: datetime, until: datetime, limit: int = 500
    ) -> list[OutboxRow]:
        """Claim for `owner` the pending messages due at `now` that nobody holds at `at` (the
        machine's time), until `until`; oldest first.

        One transaction, so two drains at once claim different rows. A row whose lease ran out
        (its sender died) is claimed again: sent again, under the same Message-ID.
        """
        with self.atomic() as db:
            rows = db.execute(
                """SELECT id, key, channel, recipient, subject, body, attempts FROM outbox
                   WHERE status = 'pending' AND next_attempt_at <= ?
                   AND (lease_until IS NULL OR lease_until <= ?) ORDER BY id LIMIT ?""",
                [iso(now), iso(at), limit],
            ).fetchall()
            db.conn.executemany(
                "UPDATE outbox SET claimed_by = ?, lease_until = ? WHERE id = ?",
                [(owner, iso(until), r[0]) for r in rows],
            )
        return [OutboxRow(r[0], r[1], r[2], r[3], r[4], bytes(r[5]), r[6]) for r in rows]

    def claimants(self, at: datetime) -> list[str]:
        """Who holds an unexpired claim at `at` (the machine's time)."""
        rows = self.db.execute(
            "SELECT DISTINCT claimed_by FROM outbox WHERE status = 'pending' AND lease_until > ?",
            [iso(at)],
        ).fetchall()
        return [str(r[0]) for r in rows]

    def hold(self, outbox_id: int, owner: str, lease_until: datetime) -> bool:
        """Renew `owner`'s claim on a message about to be sent; False when it is no longer
        theirs to send (cancelled by an unsubscribe, or claimed by another drain after this
        one's lease ran out)."""
        with self.atomic() as db:
            held = db.execute(
                """UPDATE outbox SET lease_until = ?
                   WHERE id = ? AND claimed_by = ? AND status = 'pending'""",
                [iso(lease_until), outbox_id, owner],
            ).rowcount
        return bool(held)

    def release(self, owner: str) -> None:
        """Give back what `owner` claimed and did not try (its server was down, or it died),
        untouched: the next drain claims it."""
        with self.atomic() as db:
            db.execute(
                "UPDATE outbox SET claimed_by = NULL, lease_until = NULL WHERE claimed_by = ?",
                [owner],
            )

    def mark_sent(self, outbox_id: int, owner: str, now: datetime) -> None:
        """The transport accepted the message (recorded only while `owner` holds the claim)."""
        self._settle(outbox_id, owner, status="sent", sent_at=now)

    def mark_retry(self, outbox_id: int, owner: str, error: str, next_attempt: datetime) -> None:
        """A temporary failure: try again at `next_attempt`."""
        self._settle(outbox_id, owner, error=error, next_attempt=next_attempt)

    def mark_failed(self, outbox_id: int, owner: str, error: str) -> None:
        """A permanent failure, kept with the server's answer for `status`."""
        self._settle(outbox_id, owner, status="failed", error=error)

    def _settle(
        self,
        outbox_id: int,
        owner: str,
        *,
        status: str = "pending",
        sent_at: datetime | None = None,
        error: str | None = None,
        next_attempt: datetime | None = None,
    ) -> None:
        """Record an attempt's outcome and release the claim, only on a row `owner` still
        claims and that is still pending: a `cancelled` row is final."""
        with self.atomic() as db:
            db.execute(
                """UPDATE outbox SET status = ?, sent_at = ?, last_error = ?,
                   next_attempt_at = COALESCE(?, next_attempt_at), attempts = attempts + 1,
                   claimed_by = NULL, lease_until = NULL
                   WHERE id = ? AND claimed_by = ? AND status = 'pending'""",
                [
                    status,
                    None if sent_at is None else iso(sent_at),
                    error,
                    None if next_attempt is None else iso(next_attempt),
                    outbox_id,
                    owner,
                ],
            )

    def outbox_summary(self) -> dict[str, Any]:
        """Counts by status, the last delivery time, and the failed messages' errors."""
        counts = dict(
            self.db.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall()
        )
        last = self.db.execute("SELECT MAX(sent_at) FROM outbox").fetchone()[0]
        failed = self.db.execute(
            "SELECT key, subject, last_error FROM outbox WHERE status = 'failed' ORDER BY id"
        ).fetchall()
        return {
            "pending": counts.get("pending", 0),
            "sent": counts.get("sent", 0),
            "failed": counts.get("failed", 0),
            "last_delivery": last,
            "failures": [{"key": k, "subject": s, "error": e} for k, s, e in failed],
        }

    # -- small key/value state ----------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """A remembered value, such as when the last cycle ran."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, values: dict[str, str]) -> None:
        """Remember several values at once."""
        with self.atomic() as db:
            db.table("meta").upsert_all(
                [{"key": k, "value": v} for k, v in values.items()], pk="key"
            )

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
