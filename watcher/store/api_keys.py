"""The coordinators' API keys: stored as their SHA-256 only, found by it, compared in constant
time (as a subscriber's token, `watcher.store.subscribers`). A revoked key keeps its row, so the
API can say "revoked" (403) rather than "unknown" (401), and its name cannot be reused by
mistake for a new key a script still sends the old one for.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from watcher.errors import InputError
from watcher.store.connection import Connection
from watcher.store.rows import iso, token_hash

# `last_used_at` is written at most this often per key: a script polling every second must not
# turn each read into a write transaction.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One key as `api-key list` shows it: never the key itself."""

    id: int
    name: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


_COLUMNS = "id, name, created_at, last_used_at, revoked_at"


class ApiKeyTables(Connection):
    """Creating, listing, revoking and checking API keys."""

    def add_api_key(self, name: str, key: str, now: datetime) -> ApiKey:
        """Store a new key under `name` (its hash only); a name in use, revoked or not, is
        refused in one line."""
        with self.atomic() as db:
            taken = db.execute("SELECT revoked_at FROM api_keys WHERE name = ?", [name]).fetchone()
            if taken is not None:
                was = " (revoked)" if taken[0] else ""
                raise InputError(
                    f"an API key named {name!r} already exists{was}; pick another name"
                )
            cursor = db.execute(
                "INSERT INTO api_keys (name, key_hash, created_at) VALUES (?, ?, ?)",
                [name, token_hash(key), iso(now)],
            )
        return ApiKey(int(cursor.lastrowid or 0), name, iso(now), None, None)

    def api_keys(self) -> list[ApiKey]:
        """Every key, oldest first."""
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY id")  # noqa: S608
        return [ApiKey(*row) for row in rows]

    def revoke_api_key(self, name: str, now: datetime) -> bool:
        """Revoke the key named `name`; False when there is no such key, or it already was."""
        with self.atomic() as db:
            done = db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                [iso(now), name],
            ).rowcount
        return bool(done)

    def api_key(self, key: str, now: datetime) -> ApiKey | None:
        """The key a request presents, revoked or not (None: no such key); its use is recorded
        (`TOUCH_EVERY`)."""
        wanted = token_hash(key)
        row = self.db.execute(
            f"SELECT {_COLUMNS}, key_hash FROM api_keys WHERE key_hash = ?",  # noqa: S608
            [wanted],
        ).fetchone()
        if row is None or not hmac.compare_digest(str(row[5]), wanted):
            return None
        found = ApiKey(*row[:5])
        if not found.revoked and (
            found.last_used_at is None or found.last_used_at <= iso(now - TOUCH_EVERY)
        ):
            with self.atomic() as db:
                db.execute(
                    "UPDATE api_keys SET last_used_at = ? WHERE id = ?", [iso(now), found.id]
                )
        return found
