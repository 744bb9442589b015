"""The SQLite store: versions read back exactly, migrations are recorded, bad files refused."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils
from conftest import demo_versions

from watcher.core.canonical import content_hash
from watcher.core.codec import KEYFRAME_EVERY
from watcher.core.diff import diff_trials
from watcher.core.record import parse_trial
from watcher.core.version import NewVersion
from watcher.errors import StoreError
from watcher.store.database import Store
from watcher.store.migrations import migrations
from watcher.store.rows import token_hash

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


# -- writers take turns; what SQLite refuses is one line ---------------------------------------


def test_a_writer_waits_for_another_instead_of_failing(tmp_path: Path) -> None:
    """A second writer, which under deferred BEGIN failed at once, now waits for the lock."""
    path = tmp_path / "t.db"
    with Store(path) as first, Store(path) as second:
        taken, done = threading.Event(), threading.Event()

        def hold_the_lock() -> None:
            with first.atomic():
                first.add_watches(["NCT07227597"], T0)
                taken.set()
                done.wait(0.3)

        holder = threading.Thread(target=hold_the_lock)
        holder.start()
        assert taken.wait(5)
        started = time.monotonic()
        assert second.add_watches(["NCT07227597", "NCT05935098"], T0) == ["NCT05935098"]
        waited = time.monotonic() - started
        holder.join()
    assert waited >= 0.2


def test_a_writer_that_waits_too_long_says_so_in_one_line(tmp_path: Path) -> None:
    """Past the busy timeout the write is one StoreError naming the file, and nothing stored."""
    path = tmp_path / "t.db"
    with Store(path) as first, Store(path) as second:
        second.db.execute("PRAGMA busy_timeout = 100")  # the same wait, made short for a test
        with first.atomic(), pytest.raises(StoreError) as caught:
            second.add_watches(["NCT07227597"], T0)
        assert second.trials(watched_only=False) == []
    message = str(caught.value)
    assert message.startswith(f"{path}: waited") and "\n" not in message


def test_a_full_disk_is_one_line_and_the_database_stays_whole(tmp_path: Path) -> None:
    """SQLITE_FULL (a page limit stands in for the disk) rolls back the step: one StoreError."""
    path = tmp_path / "t.db"
    with Store(path) as store:
        store.add_watches(["NCT07227597"], T0)
        store.db.execute("VACUUM")  # the outbox's rebuild (m012) left free pages a save reuses
        pages = store.db.execute("PRAGMA page_count").fetchone()[0]
        store.db.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StoreError, match=r"t\.db: the disk is full; nothing of this step"):
            store.save_version(
                NewVersion.of("NCT07227597", VERSIONS[0], content_hash(VERSIONS[0])),
                None,
                None,
                T0,
            )
        assert store.versions("NCT07227597") == []
        assert store.db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_nested_transaction_is_a_savepoint_of_the_outer_one(tmp_path: Path) -> None:
    """Health state and its alerts commit together: an inner failure undoes only the inner part,
    an outer failure undoes both."""
    with Store(tmp_path / "t.db") as store:
        with pytest.raises(RuntimeError), store.atomic():
            store.set_meta({"a": "1"})
            raise RuntimeError("boom")
        with store.atomic():
            store.set_meta({"b": "2"})
            with pytest.raises(RuntimeError), store.atomic():
                store.set_meta({"c": "3"})
                raise RuntimeError("boom")
        assert [store.get_meta(k) for k in "abc"] == [None, "2", None]


def test_the_same_version_stored_by_two_checks_is_kept_once(tmp_path: Path) -> None:
    """Two checks that fetched one record both store it: the second finds it and writes nothing."""
    raw = VERSIONS[0]
    with Store(tmp_path / "t.db") as store:
        store.add_watches(["NCT07227597"], T0)
        new = NewVersion.of("NCT07227597", raw, content_hash(raw))
        assert store.save_version(new, None, None, T0) == 1
        assert store.save_version(new, None, None, T0) == 1
        assert [v.version for v in store.versions("NCT07227597")] == [1]


# -- tokens --------------------------------------------------------------------------------------


def test_tokens_are_found_by_their_hash(tmp_path: Path) -> None:
    """An unsubscribe token finds its subscriber through the stored SHA-256; a near miss not."""
    with Store(tmp_path / "t.db") as store:
        store.add_watches(["NCT07227597"], T0)
        person = store.subscribe("pat@example.org", ["NCT07227597"], T0).subscriber
        assert store.subscriber(token=person.unsubscribe_token) == person
        assert store.subscriber(token=person.unsubscribe_token[:-1] + "x") is None
        assert store.subscriber(token=person.feed_token) is None
        hashes = store.db.execute("SELECT unsubscribe_hash, feed_hash FROM subscribers").fetchone()
    assert hashes == (token_hash(person.unsubscribe_token), token_hash(person.feed_token))


def test_the_migration_fills_the_hashes_of_existing_subscribers(tmp_path: Path) -> None:
    """A database from before the hashes: its subscribers can still unsubscribe by token."""
    path = tmp_path / "t.db"
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before="m003_outbox_claims")
    db["subscribers"].insert(
        {
            "email": "old@example.org",
            "unsubscribe_token": "u-tok",
            "feed_token": "f-tok",
            "created_at": "2026-01-01T00:00:00+00:00",
        }
    )
    db.close()
    with Store(path) as store:
        person = store.subscriber(token="u-tok")
        assert person is not None and person.email == "old@example.org"
        hashes = store.db.execute("SELECT unsubscribe_hash, feed_hash FROM subscribers").fetchone()
    assert hashes == (token_hash("u-tok"), token_hash("f-tok"))
