"""Subscriptions asked for on the web and waiting for their confirmation link (double opt-in).

A row is a request, never a subscription: confirming it (`use_confirmation`) is what lets the
service subscribe. Its token is kept only as its SHA-256 and compared in constant time, like a
subscriber's (`watcher.store.subscribers`). The per-address limit counts these rows, so it holds
across restarts and across processes; rows past use and past that day are deleted, and their
addresses with them.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import sha256
from typing import Any

from watcher.core.addresses import address_key
from watcher.store.rows import iso, token_hash
from watcher.store.subscribers import SubscriberTables


@dataclass(frozen=True, slots=True)
class Pending:
    """One request as stored: who, which trials or which saved search, the options asked for,
    and its life."""

    id: int
    email: str
    nct_ids: tuple[str, ...]  # empty for a search's request
    options: dict[str, Any]  # JSON as `watcher.service.confirmations` wrote it
    created_at: str
    expires_at: str
    used_at: str | None
    search_id: int | None = None  # a request to hear of a saved search's new matches


def address_hash(address: str) -> str:
    """What the per-address limit counts by: the SHA-256 of the address as one mailbox."""
    return sha256(address_key(address).encode("utf-8")).hexdigest()


class ConfirmationTables(SubscriberTables):
    """Reading and writing the requests that wait for their confirmation link."""

    def add_confirmation(
        self,
        email: str,
        nct_ids: Sequence[str],
        options: dict[str, Any],
        now: datetime,
        expires: datetime,
        *,
        token: str | None,
        search_id: int | None = None,
    ) -> int:
        """Store a request (with no `token` when its email carries no link), for trials or for
        the saved search `search_id`; returns its id."""
        with self.atomic() as db:
            cursor = db.execute(
                """INSERT INTO confirmations (token_hash, address_hash, email, nct_ids, options,
                                              created_at, expires_at, search_id)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    None if token is None else token_hash(token),
                    address_hash(email),
                    email,
                    json.dumps(list(nct_ids)),
                    json.dumps(options, sort_keys=True),
                    iso(now),
                    iso(expires),
                    search_id,
                ],
            )
            return int(cursor.lastrowid or 0)

    def confirmations_since(self, email: str, since: datetime) -> int:
        """How many requests this mailbox (any capitals) made since `since`."""
        row = self.db.execute(
            "SELECT COUNT(*) FROM confirmations WHERE address_hash = ? AND created_at > ?",
            [address_hash(email), iso(since)],
        ).fetchone()
        return int(row[0])

    def confirmation(self, token: str) -> Pending | None:
        """The request this token confirms, used or not; None for a token never issued.

        Found by the token's hash, then the hash compared in constant time, as for subscribers.
        """
        wanted = token_hash(token)
        row = self.db.execute(
            """SELECT id, email, nct_ids, options, created_at, expires_at, used_at, token_hash,
                      search_id FROM confirmations WHERE token_hash = ?""",
            [wanted],
        ).fetchone()
        if row is None or not hmac.compare_digest(str(row[7]), wanted):
            return None
        return Pending(
            id=row[0],
            email=row[1],
            nct_ids=tuple(json.loads(row[2])),
            options=json.loads(row[3]),
            created_at=row[4],
            expires_at=row[5],
            used_at=row[6],
            search_id=row[8],
        )

    def use_confirmation(self, confirmation_id: int, now: datetime) -> bool:
        """Mark a request used; False when it already was (a second click, a second tab)."""
        with self.atomic() as db:
            used = db.execute(
                "UPDATE confirmations SET used_at = ? WHERE id = ? AND used_at IS NULL",
                [iso(now), confirmation_id],
            ).rowcount
        return bool(used)

    def forget_confirmations(self, now: datetime, keep: timedelta) -> int:
        """Delete the requests made before `now - keep` that can no longer be used (confirmed,
        or expired); returns how many went. `keep` is at least the per-address limit's window,
        so forgetting never lifts a limit early."""
        with self.atomic() as db:
            gone = db.execute(
                """DELETE FROM confirmations WHERE created_at <= ?
                   AND (used_at IS NOT NULL OR expires_at <= ?)""",
                [iso(now - keep), iso(now)],
            ).rowcount
        return int(gone)
