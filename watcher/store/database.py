"""The `Store`: every read and write of the trialwatch database (with `migrations`, the only
SQLite user in the package).

It is one class of about 550 lines on purpose: every write shares one connection and its
transactions, and a method that writes several tables (a version, its changes, their messages)
must see them all. The schema is in `migrations`, the returned rows in `rows`.

Why it looks like this:
- Every state change is one `db.atomic()` transaction, so a crash or kill at any point leaves
  either the whole new version (with its changes and the messages they cause) or none of it.
- Versions are append-only; a row is never rewritten, so any stored version stays readable.
- WAL mode and a busy timeout let the CLI read while the daemon writes, without "database is
  locked" reaching a user.
- A database made by a newer trialwatch (a migration unknown here) is refused, not damaged.
- The file is created private (0600) in a private directory: subscriber data lives here.
"""

from __future__ import annotations

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
    trial_row,
    version_row,
)

BUSY_TIMEOUT_MS = 10_000


class Store:
    """A trialwatch database on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not path.exists():
                # Create the file ourselves so it is private from the first byte; SQLite gives
                # its -wal and -shm files the same mode.
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
            self.db = sqlite_utils.Database(conn)
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{path}: cannot use this database ({exc}); check the path in [storage].database "
                "or move the file aside to start a new one"
            ) from exc
        except OSError as exc:
            raise StoreError(
                f"{path}: cannot create or open the database ({exc.strerror}); check the path "
                "in [storage].database and its permissions"
            ) from exc

    def _migrate(self) -> None:
        known = {m.name for m in migrations._migrations}
        applied = {m.name for m in migrations.applied(self.db)}
        if applied - known:
            raise StoreError(
                f"{self.path}: this database was written by a newer trialwatch "
                f"(unknown migrations: {', '.join(sorted(applied - known))}); upgrade trialwatch"
            )
        if migrations.pending(self.db):
            if self.db.journal_mode != "wal":
                self.db.enable_wal()
            migrations.apply(self.db)

    def close(self) -> None:
        """Close the connection (a checkpoint folds the WAL back into the file)."""
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def atomic(self) -> Iterator[sqlite_utils.Database]:
        """One transaction: all of it is committed, or none of it."""
        with self.db.atomic() as db:
            yield db

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
        """
        nct_id, stamp, changes, sentences = new.nct_id, new.stamp, new.changes, new.sentences
        with self.atomic() as db:
            trial = self._trial_dict(nct_id)
            if trial is None:
                raise StoreError(f"{nct_id} is not watched; add it with `trialwatch watch add`")
            prev_version = trial["current_version"]
            version = (prev_version or 0) + 1
            if notices is not None and notices.version != version:
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
                db.table("subscribers").insert(
                    {
                        "email": email,
                        "unsubscribe_token": secrets.token_urlsafe(32),
                        "feed_token": secrets.token_urlsafe(32),
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
        scrubbed from the outbox (queued messages to them are cancelled, not sent).
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
        """Find a subscriber by address or by unsubscribe token."""
        row = self.db.execute(
            """SELECT id, email, unsubscribe_token, feed_token FROM subscribers
               WHERE email = ? OR unsubscribe_token = ?""",
            [email, token],
        ).fetchone()
        return Subscriber(*row) if row else None

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

    def due_messages(self, now: datetime, limit: int = 500) -> list[OutboxRow]:
        """Pending messages whose next attempt is due, oldest first."""
        rows = self.db.execute(
            """SELECT id, key, channel, recipient, subject, body, attempts FROM outbox
               WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?""",
            [iso(now), limit],
        ).fetchall()
        return [OutboxRow(r[0], r[1], r[2], r[3], r[4], bytes(r[5]), r[6]) for r in rows]

    def mark_sent(self, outbox_id: int, now: datetime) -> None:
        """The transport accepted the message."""
        with self.atomic() as db:
            db.execute(
                """UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1,
                   last_error = NULL WHERE id = ?""",
                [iso(now), outbox_id],
            )

    def mark_retry(self, outbox_id: int, error: str, next_attempt: datetime) -> None:
        """A temporary failure: try again at `next_attempt`."""
        with self.atomic() as db:
            db.execute(
                """UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?
                   WHERE id = ?""",
                [error, iso(next_attempt), outbox_id],
            )

    def mark_failed(self, outbox_id: int, error: str) -> None:
        """A permanent failure, kept with the server's answer for `status`."""
        with self.atomic() as db:
            db.execute(
                """UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?
                   WHERE id = ?""",
                [error, outbox_id],
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

    def move_watch(self, old: str, new: str) -> None:
        """The registry now lists trial `old` as `new` (it answers 301 from one to the other).

        One transaction. When `new` is not known here, the trial's row, versions and changes
        move to `new` and the `old` row goes: it is one trial, with one history. When `new` is
        already known (watched under both IDs), its own history stays and `old` is kept,
        unwatched, with its history. Either way every subscription to `old` is re-pointed to
        `new` (a subscriber who already had `new` keeps that one).
        """
        with self.atomic() as db:
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
