"""The outbox tables: messages queued in a change's own transaction, claimed, then settled.

The outbox is drained by claims: a sender owns the rows it claimed until its lease ends, and
records an outcome only while it still owns the row, so two senders never send one message
and a `cancelled` row stays cancelled (`claim_due`, `hold`, `renew`, `settle`).

A drain records each outcome in a transaction of its own, committed before the next message
goes: the one that also makes sure the next message is still the drain's to send (`hold`'s
`settling`), so a message costs the drain one commit. With the write-ahead log and
`synchronous = NORMAL` for the drain's length (`sending`), such a commit is in the log without
waiting for the disk. A killed process loses nothing that was committed; a power cut may lose
the last outcomes, whose messages then go again under the same Message-ID, the window a crash
between "250 accepted" and the commit already has.

A copy of an email shared by many readers (`watcher.core.shared_body`) is stored as the shared
body, once, in `outbox_bodies` (under its digest), and a row holding the digest and its
reader's tokens; a claim fills it in, so what goes out is the bytes built for that reader. A
body goes when the last row referring to it forgets its reader (`_scrub_outbox`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watcher.core.message import Outgoing
from watcher.core.shared_body import SharedBody
from watcher.store.connection import Connection
from watcher.store.rows import OutboxRow, iso

# A sent message writes about eight pages to the log (its row, rewritten when claimed and when
# settled, with the overflow page its body needs, the free list and the index): so about one
# checkpoint per claimed batch of 500, and a log file of some 16 MB at most while a drain runs.
DRAIN_CHECKPOINT_PAGES = 4000


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one attempt at a claimed message, for `settle` (or `hold`'s `settling`)."""

    outbox_id: int
    status: str = "pending"  # "sent", "failed", or still "pending" for a retry
    sent_at: datetime | None = None
    error: str | None = None
    next_attempt: datetime | None = None

    @classmethod
    def sent(cls, outbox_id: int, now: datetime) -> Outcome:
        """The transport accepted the message."""
        return cls(outbox_id, "sent", sent_at=now)

    @classmethod
    def retry(cls, outbox_id: int, error: str, next_attempt: datetime) -> Outcome:
        """A temporary failure: try again at `next_attempt`."""
        return cls(outbox_id, error=error, next_attempt=next_attempt)

    @classmethod
    def failed(cls, outbox_id: int, error: str) -> Outcome:
        """A permanent failure, kept with the server's answer for `status`."""
        return cls(outbox_id, "failed", error=error)


class OutboxTables(Connection):
    """Reading and writing the outbox."""

    # -- the outbox -------------------------------------------------------------------------------

    def enqueue(self, messages: Sequence[Outgoing], now: datetime) -> None:
        """Queue messages (alone; with a version, `save_version` queues them in its transaction)."""
        with self.atomic():
            self._enqueue(messages, now)

    def _enqueue(self, messages: Sequence[Outgoing], now: datetime) -> None:
        """Insert the rows; a filled-in copy's shared body once (by its digest), the row with
        its reader's parts and no body of its own (module doc)."""
        shared: dict[str, SharedBody] = {}
        rows = []
        stamp = iso(now)
        for m in messages:
            merged = m.merged
            if merged is None:
                body, digest, parts = m.body, None, None
            else:
                shared.setdefault(merged.shared.digest, merged.shared)
                body, digest, parts = b"", merged.shared.digest, merged.stored_parts()
            head = (m.key, m.channel, m.subscriber_id, m.recipient, m.subject)
            rows.append((*head, body, digest, parts, stamp, stamp))
        conn = self.db.conn
        if shared:  # each body once: those stored already are not sent to SQLite again
            stored = conn.execute(
                """SELECT digest FROM outbox_bodies
                   WHERE digest IN (SELECT value FROM json_each(?))""",
                [json.dumps(list(shared))],
            )
            for (digest,) in stored:
                del shared[digest]
            conn.executemany(
                "INSERT INTO outbox_bodies (digest, text, cuts) VALUES (?, ?, ?)",
                [(digest, body.text, body.where) for digest, body in shared.items()],
            )
        inserted = conn.executemany(
            """INSERT INTO outbox (key, channel, subscriber_id, recipient, subject, body,
                                   body_digest, parts, next_attempt_at, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING""",
            rows,
        ).rowcount
        if shared and inserted < len(rows):  # some queued before: a new body may be unused
            self._drop_unused_bodies(list(shared))

    def _drop_unused_bodies(self, digests: Sequence[str]) -> None:
        """Delete those of these shared bodies no outbox row refers to (inside the caller's
        transaction)."""
        self.db.conn.execute(
            """DELETE FROM outbox_bodies WHERE digest IN (SELECT value FROM json_each(?))
               AND NOT EXISTS (SELECT 1 FROM outbox WHERE body_digest = outbox_bodies.digest)""",
            [json.dumps(list(digests))],
        )

    def _scrub_outbox(self, subscriber_id: int) -> None:
        """Forget a subscriber in the outbox (inside the caller's transaction): what waits for
        them is cancelled, and no row keeps their address, tokens or body; a shared body no
        row refers to any more goes too."""
        conn = self.db.conn
        digests = [
            row[0]
            for row in conn.execute(
                """SELECT DISTINCT body_digest FROM outbox
                   WHERE subscriber_id = ? AND body_digest IS NOT NULL""",
                [subscriber_id],
            )
        ]
        conn.execute(
            """UPDATE outbox SET status = CASE status WHEN 'pending' THEN 'cancelled'
               ELSE status END, recipient = '(unsubscribed)', body = X'', body_digest = NULL,
               parts = NULL, subscriber_id = NULL WHERE subscriber_id = ?""",
            [subscriber_id],
        )
        if digests:
            self._drop_unused_bodies(digests)

    def claim_due(
        self,
        now: datetime,
        owner: str,
        *,
        at: datetime,
        until: datetime,
        limit: int = 500,
        skip_channels: Sequence[str] = (),
    ) -> list[OutboxRow]:
        """Claim for `owner` the pending messages due at `now` that nobody holds at `at` (the
        machine's time), until `until`; oldest first, at most `limit`, none of `skip_channels`.

        One transaction, so two drains at once claim different rows. A row whose lease ran out
        (its sender died) is claimed again: sent again, under the same Message-ID.

        The due ids come from the `outbox_due` index alone, in id order, and rows are read
        from them until `limit` are found: filtering and sorting whole rows (a body each, the
        lease after it) would read every waiting message for each batch. A row whose body is
        shared (module doc) is filled in for its reader here, each shared body read once.
        """
        with self.atomic() as db:
            rows = db.execute(
                """SELECT id, key, channel, recipient, subject, body, attempts, body_digest, parts
                   FROM outbox
                   WHERE id IN (SELECT id FROM outbox
                                WHERE status = 'pending' AND next_attempt_at <= ?)
                   AND (lease_until IS NULL OR lease_until <= ?)
                   AND channel NOT IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT ?""",
                [iso(now), iso(at), json.dumps(list(skip_channels)), limit],
            ).fetchall()
            db.conn.executemany(
                "UPDATE outbox SET claimed_by = ?, lease_until = ? WHERE id = ?",
                [(owner, iso(until), r[0]) for r in rows],
            )
            shared = self._shared_bodies({r[7] for r in rows if r[7] is not None})
        return [
            OutboxRow(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                bytes(r[5]) if r[7] is None else shared[r[7]].fill_stored(r[3], r[1], r[8]),
                r[6],
            )
            for r in rows
        ]

    def _shared_bodies(self, digests: set[str]) -> dict[str, SharedBody]:
        """These shared bodies, each read once, by digest."""
        if not digests:
            return {}
        rows = self.db.conn.execute(
            """SELECT digest, text, cuts FROM outbox_bodies
               WHERE digest IN (SELECT value FROM json_each(?))""",
            [json.dumps(sorted(digests))],
        )
        return {d: SharedBody.from_stored(d, bytes(text), cuts) for d, text, cuts in rows}

    @contextmanager
    def sending(self) -> Iterator[None]:
        """For a drain's length: its outcomes committed to the log without waiting for the disk
        (module doc), and the log folded back into the database (a checkpoint, which waits for
        the disk twice) once every `DRAIN_CHECKPOINT_PAGES` rather than every 1,000 pages,
        SQLite's default: that was one wait of several milliseconds every 120 messages or so,
        inside a message's commit. What the drain wrote is folded in once at its end, and the
        connection's own settings are back afterwards."""
        (synchronous,) = self.db.execute("PRAGMA synchronous").fetchone()
        (pages,) = self.db.execute("PRAGMA wal_autocheckpoint").fetchone()
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute(f"PRAGMA wal_autocheckpoint = {DRAIN_CHECKPOINT_PAGES}")
        try:
            yield
            self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            self.db.execute(f"PRAGMA synchronous = {int(synchronous)}")
            self.db.execute(f"PRAGMA wal_autocheckpoint = {int(pages)}")

    def claimants(self, at: datetime) -> list[str]:
        """Who holds an unexpired claim at `at` (the machine's time)."""
        rows = self.db.execute(
            "SELECT DISTINCT claimed_by FROM outbox WHERE status = 'pending' AND lease_until > ?",
            [iso(at)],
        ).fetchall()
        return [str(r[0]) for r in rows]

    def renew(self, owner: str, lease_until: datetime) -> None:
        """Extend every pending claim of `owner` to `lease_until`, in one transaction."""
        with self.atomic() as db:
            db.execute(
                """UPDATE outbox SET lease_until = ?
                   WHERE claimed_by = ? AND status = 'pending'""",
                [iso(lease_until), owner],
            )

    def hold(
        self,
        outbox_id: int,
        owner: str,
        *,
        at: datetime,
        until: datetime,
        settling: Outcome | None = None,
    ) -> bool:
        """Whether `owner` may send message `outbox_id` at `at` (the machine's time): True
        while it holds its claim, renewed to `until` if it lapsed and nobody took it; False
        once the message is no longer theirs (cancelled by an unsubscribe, or claimed by
        another drain after this one's lease ran out).

        `settling`, the previous message's outcome, is recorded in the same transaction: one
        commit per message, and the outcome is in before the next message goes. The check is
        a read unless the claim lapsed, so it costs the commit nothing.
        """
        with self.atomic() as db:
            if settling is not None:
                self._settle(settling, owner)
            row = db.conn.execute(
                """SELECT lease_until > ? FROM outbox
                   WHERE id = ? AND claimed_by = ? AND status = 'pending'""",
                [iso(at), outbox_id, owner],
            ).fetchone()
            if row is not None and not row[0]:
                db.conn.execute(
                    "UPDATE outbox SET lease_until = ? WHERE id = ?", [iso(until), outbox_id]
                )
        return row is not None

    def release(self, owner: str) -> None:
        """Give back what `owner` claimed and did not try (its server was down, or it died),
        untouched: the next drain claims it."""
        with self.atomic() as db:
            db.execute(
                "UPDATE outbox SET claimed_by = NULL, lease_until = NULL WHERE claimed_by = ?",
                [owner],
            )

    def settle(self, outcome: Outcome, owner: str) -> None:
        """Record an attempt's outcome in a transaction of its own (see `hold`'s `settling`)."""
        with self.atomic():
            self._settle(outcome, owner)

    def _settle(self, outcome: Outcome, owner: str) -> None:
        """Record an attempt's outcome and release the claim, only on a row `owner` still
        claims and that is still pending: a `cancelled` row is final. Called inside the
        caller's transaction."""
        self.db.conn.execute(
            """UPDATE outbox SET status = ?, sent_at = ?, last_error = ?,
               next_attempt_at = COALESCE(?, next_attempt_at), attempts = attempts + 1,
               claimed_by = NULL, lease_until = NULL
               WHERE id = ? AND claimed_by = ? AND status = 'pending'""",
            [
                outcome.status,
                None if outcome.sent_at is None else iso(outcome.sent_at),
                outcome.error,
                None if outcome.next_attempt is None else iso(outcome.next_attempt),
                outcome.outbox_id,
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

    def channel_figures(self) -> dict[str, dict[str, Any]]:
        """Each chat channel's messages (outbox rows of channel `apprise`, by channel name):
        how many wait, failed and went, the most attempts a waiting one has had, the last
        error of one still waiting or failed, and when the last one went."""
        rows = self.db.execute(
            """SELECT recipient,
                      SUM(status = 'pending'), SUM(status = 'failed'), SUM(status = 'sent'),
                      MAX(CASE WHEN status = 'pending' THEN attempts ELSE 0 END),
                      MAX(sent_at),
                      (SELECT last_error FROM outbox AS o
                       WHERE o.channel = 'apprise' AND o.recipient = outbox.recipient
                       AND o.status IN ('pending', 'failed') AND o.last_error IS NOT NULL
                       ORDER BY o.id DESC LIMIT 1)
               FROM outbox WHERE channel = 'apprise' GROUP BY recipient"""
        ).fetchall()
        return {
            name: {
                "pending": pending,
                "failed": failed,
                "sent": sent,
                "attempts": attempts,
                "last_sent": last_sent,
                "last_error": error,
            }
            for name, pending, failed, sent, attempts, last_sent, error in rows
        }
