"""The connection under every `Store`: opening, migrating, transactions, SQLite's errors.

Why it looks like this:
- Each write transaction starts with `BEGIN IMMEDIATE`: it takes the write lock before its
  first read, so a second writer waits (the busy timeout) instead of failing the moment it
  tries to turn a read into a write, which under WAL is SQLITE_BUSY at once, timeout or not.
  The connection runs with `isolation_level=None` so Python never opens a deferred
  transaction of its own behind our back; a nested `atomic()` is a savepoint.
- Every SQLite failure becomes a one-line `StoreError` naming the file and what to do
  (`_unusable`, the one place they are worded): a write that waited too long, a read-only
  file, a full disk, an I/O error.
- WAL mode and a busy timeout let the CLI read while the daemon writes; two writers take turns.
- A database made by a newer trialwatch (a migration unknown here) is refused, not damaged.
- The file is created private (0600) in a private directory: subscriber data lives here.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import sqlite_utils

from watcher.errors import StoreError
from watcher.store.migrations import migrations

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


class Connection:
    """One open trialwatch database: the base of `Store` and its table groups."""

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

    def __enter__(self) -> Self:
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

    def _trial_dict(self, nct_id: str) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM trials WHERE nct_id = ?", [nct_id]))
        return rows[0] if rows else None
