"""The SQLite store: versions read back exactly, migrations are recorded, bad files refused."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import demo_versions

from watcher.core.canonical import content_hash
from watcher.core.codec import KEYFRAME_EVERY
from watcher.core.diff import diff_trials
from watcher.core.record import parse_trial
from watcher.core.version import NewVersion
from watcher.errors import StoreError
from watcher.store.database import Store

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
VERSIONS = demo_versions("NCT07227597")


def test_every_stored_version_reads_back_exactly_across_keyframes(tmp_path: Path) -> None:
    """A long chain of versions (deltas and keyframes) returns each record as it was served."""
    with Store(tmp_path / "t.db") as store:
        store.add_watches(["NCT07227597"], T0)
        served = []
        previous = None
        for n in range(KEYFRAME_EVERY + 3):
            raw = VERSIONS[n % 2] | {"trialwatchTestCounter": n}  # a third-party key, per version
            store.save_version(NewVersion.of("NCT07227597", raw, f"h{n}"), previous, None, T0)
            served.append(raw)
            previous = raw
        for n, raw in enumerate(served, start=1):
            got = store.record("NCT07227597", n)
            assert got == raw and list(got) == list(raw)
        codecs = [r[0] for r in store.db.execute("SELECT codec FROM versions ORDER BY version")]
    assert codecs.count("zlib") == 2 and codecs[KEYFRAME_EVERY] == "zlib"


def test_changes_are_saved_with_their_version_and_reload_equal(tmp_path: Path) -> None:
    """Changes stored beside a version come back as the same `Change` objects, in order."""
    old, new = VERSIONS
    changes = diff_trials(parse_trial(old), parse_trial(new))
    with Store(tmp_path / "t.db") as store:
        store.add_watches(["NCT07227597"], T0)
        store.save_version(NewVersion.of("NCT07227597", old, content_hash(old)), None, None, T0)
        later = T0 + timedelta(days=1)
        second = NewVersion.of("NCT07227597", new, content_hash(new), changes)
        store.save_version(second, old, None, later)
        stored = store.changes("NCT07227597")
    assert [s.change for s in stored] == changes
    assert {(s.from_version, s.to_version) for s in stored} == {(1, 2)}


def test_a_failed_transaction_leaves_no_partial_version(tmp_path: Path) -> None:
    """Saving a version for a trial that is not watched stores nothing at all."""
    with Store(tmp_path / "t.db") as store:
        with pytest.raises(StoreError, match="not watched"):
            store.save_version(NewVersion.of("NCT07227597", VERSIONS[0], "h"), None, None, T0)
        assert store.db.execute("SELECT COUNT(*) FROM versions").fetchone()[0] == 0


def test_migrations_are_recorded_and_wal_is_on(tmp_path: Path) -> None:
    """A new database records its migrations and runs in WAL mode, so readers never block."""
    Store(tmp_path / "t.db").close()
    with sqlite3.connect(tmp_path / "t.db") as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations")]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert names and names[0].startswith("m001")
    assert mode == "wal"


def test_a_database_from_a_newer_trialwatch_is_refused(tmp_path: Path) -> None:
    """An unknown migration means a newer program wrote the file: refuse rather than damage it."""
    Store(tmp_path / "t.db").close()
    with sqlite3.connect(tmp_path / "t.db") as conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
            " VALUES ('trialwatch', 'm999_future', 'x')"
        )
    with pytest.raises(StoreError, match="newer trialwatch"):
        Store(tmp_path / "t.db")


def test_a_file_that_is_not_a_database_is_refused_and_kept(tmp_path: Path) -> None:
    """Pointing [storage].database at another file gives a clear error and leaves it alone."""
    path = tmp_path / "notes.txt"
    path.write_text("my notes, not a database\n" * 100, encoding="utf-8")
    with pytest.raises(StoreError, match=r"notes.txt.*\[storage\]\.database"):
        Store(path)
    assert path.read_text(encoding="utf-8").startswith("my notes")
