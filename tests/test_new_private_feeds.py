"""The private feeds of a subscribers file's many new subscribers, written by a child process
while their welcome emails are built (`NewPrivateFeeds`, `Forked`), on SQLite and a feeds folder
on disk: after the commit every new subscriber has both feeds, each the feed rendered for their
own token, readable by the web server in a folder it cannot list; after a failure inside the
transaction not one of them is left; a process running another thread writes them itself."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import demo_versions

from watcher.config import Settings, load_settings
from watcher.core.canonical import content_hash
from watcher.core.diff import diff_trials
from watcher.core.record import parse_trial
from watcher.core.version import NewVersion
from watcher.delivery import templates
from watcher.delivery.feed_files import ASIDE_FROM, write_feeds, write_private_feeds
from watcher.delivery.forked import Forked
from watcher.service import subscriptions
from watcher.store.database import Store
from watcher.store.subscribers import Wanted

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TRIALS = ("NCT07227597", "NCT06911827")
PEOPLE = ASIDE_FROM + 20  # enough for a child process


@pytest.fixture(autouse=True)
def earlier_threads_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest's process keeps the idle threads of earlier tests (a thread pool's worker, tqdm's
    monitor), which would keep every test here from forking: those are not counted, a test's
    own threads are."""
    earlier = set(threading.enumerate()) - {threading.main_thread()}
    count = threading.active_count
    monkeypatch.setattr(
        threading, "active_count", lambda: count() - len(earlier & set(threading.enumerate()))
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    config = tmp_path / "config.toml"
    config.write_text('[web]\nbase_url = "https://trials.example.org"\n', encoding="utf-8")
    return load_settings(config, env={"STATE_DIRECTORY": str(tmp_path / "state")})


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """Two watched trials, each with two stored versions and the changes between them (nothing
    is asked of a registry), and their feeds written, as the check that stored them leaves
    them."""
    settings.feeds.dir.parent.mkdir(parents=True)
    with Store(settings.feeds.dir.parent / "trialwatch.db") as opened:
        opened.add_watches(list(TRIALS), NOW)
        for nct_id in TRIALS:
            first, second = demo_versions(nct_id)
            opened.save_version(NewVersion.of(nct_id, first, content_hash(first)), None, None, NOW)
            changes = diff_trials(parse_trial(first), parse_trial(second))
            new = NewVersion.of(nct_id, second, content_hash(second), changes)
            opened.save_version(new, first, None, NOW)
        write_feeds(opened, settings, NOW)
        yield opened


def requests(count: int) -> list[Wanted]:
    """One or both trials each, as patients or coordinators, some only for status changes:
    private feeds that differ."""
    return [
        Wanted(
            f"reader{n}@example.org",
            TRIALS[: 1 + n % 2],
            audience=("patient", "coordinator")[n % 3 == 0],
            kinds=frozenset({"status"}) if n % 5 == 0 else None,
            where=f"l{n}",
        )
        for n in range(count)
    ]


def private_files(settings: Settings) -> list[Path]:
    folder = settings.feeds.dir / "private"
    return sorted(folder.iterdir()) if folder.exists() else []


def counts(store: Store) -> tuple[Any, ...]:
    return tuple(
        store.db.execute(
            """SELECT (SELECT COUNT(*) FROM subscribers), (SELECT COUNT(*) FROM subscriptions),
                      (SELECT COUNT(*) FROM outbox)"""
        ).fetchone()
    )


def assert_each_feed_is_its_own(store: Store, settings: Settings, people: int) -> None:
    """Both feeds of every subscriber, readable by the web server in a folder it cannot list,
    each byte for byte what writing that subscriber's feeds here and now gives."""
    ids = [row[0] for row in store.db.execute("SELECT id FROM subscribers")]
    assert len(ids) == people
    files = {path.name: path.read_bytes() for path in private_files(settings)}
    assert len(files) == 2 * people
    assert {path.stat().st_mode & 0o777 for path in private_files(settings)} == {0o644}
    assert (settings.feeds.dir / "private").stat().st_mode & 0o777 == 0o711
    assert len({data for data in files.values() if b"<entry>" in data}) > people // 2
    for path in private_files(settings):
        path.unlink()
    write_private_feeds(store, settings, NOW, ids)
    assert {path.name: path.read_bytes() for path in private_files(settings)} == files


def test_many_new_subscribers_get_their_own_feeds_from_a_child_process(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Forked | None] = []
    start = Forked.start

    def counted(work: Callable[[], None]) -> Forked | None:
        started.append(start(work))
        return started[-1]

    subscriptions.subscribe(store, settings, "old@example.org", [TRIALS[0]], NOW)
    (old,) = [path.read_bytes() for path in private_files(settings) if path.suffix == ".atom"]
    monkeypatch.setattr(Forked, "start", counted)
    also = Wanted("old@example.org", (TRIALS[1],))  # one already here follows one more trial
    result = subscriptions.subscribe_many(store, settings, [*requests(PEOPLE), also], NOW)
    assert result.problems == ()
    assert [child is not None for child in started] == [True]  # written aside, once
    assert counts(store) == (PEOPLE + 1, PEOPLE * 3 // 2 + 2, PEOPLE * 3 // 2 + 2)
    assert old not in {path.read_bytes() for path in private_files(settings)}  # rewritten
    assert_each_feed_is_its_own(store, settings, PEOPLE + 1)


def test_a_child_that_fails_after_the_commit_leaves_the_feeds_to_the_parent(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child dies before writing a file (a full disk, a kill): the subscriptions are
    committed, and every new subscriber's feeds are written by the command itself."""
    start = Forked.start

    def failing(work: Callable[[], None]) -> Forked | None:
        def broken() -> None:
            raise OSError("[Errno 28] No space left on device")

        return start(broken)

    monkeypatch.setattr(Forked, "start", failing)
    result = subscriptions.subscribe_many(store, settings, requests(PEOPLE), NOW)
    assert result.problems == ()
    assert_each_feed_is_its_own(store, settings, PEOPLE)


def test_a_process_running_another_thread_writes_the_feeds_itself(
    store: Store, settings: Settings
) -> None:
    done = threading.Event()
    other = threading.Thread(target=done.wait)
    other.start()
    try:
        assert Forked.start(lambda: None) is None
        result = subscriptions.subscribe_many(store, settings, requests(PEOPLE), NOW)
    finally:
        done.set()
        other.join()
    assert result.problems == ()
    assert_each_feed_is_its_own(store, settings, PEOPLE)


def test_a_failure_while_welcoming_leaves_no_feed_behind(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The welcomes fail once the child has written feeds: the transaction is rolled back, and
    every file the child made is removed with it."""
    seen: list[int] = []

    def breaking(name: str, **values: Any) -> str:
        if len(seen) == 0:
            deadline = time.monotonic() + 30
            while not private_files(settings) and time.monotonic() < deadline:
                time.sleep(0.01)
            seen.append(len(private_files(settings)))
            raise RuntimeError("the template broke")
        return templates.render(name, **values)

    monkeypatch.setattr(subscriptions, "render", breaking)
    with pytest.raises(RuntimeError, match="the template broke"):
        subscriptions.subscribe_many(store, settings, requests(PEOPLE), NOW)
    assert seen and seen[0] > 0  # the child had made files when it failed
    assert private_files(settings) == []
    assert counts(store) == (0, 0, 0)


def test_a_child_s_error_is_raised_by_wait_and_stop_ends_it(tmp_path: Path) -> None:
    mark = tmp_path / "pid"

    def work() -> None:
        mark.write_text(str(os.getpid()))
        raise OSError("[Errno 28] No space left on device: 'private/x.atom'")

    child = Forked.start(work)
    assert child is not None
    with pytest.raises(OSError, match=re.escape("No space left on device: 'private/x.atom'")):
        child.wait()
    assert int(mark.read_text()) != os.getpid()  # it ran, in another process

    sleeper = Forked.start(lambda: time.sleep(60))
    assert sleeper is not None
    began = time.monotonic()
    sleeper.stop()
    assert time.monotonic() - began < 5
    fine = Forked.start(lambda: None)
    assert fine is not None
    fine.wait()  # a child that succeeds: nothing raised


def test_a_child_takes_signals_as_its_parent_does(tmp_path: Path) -> None:
    """Ctrl-C stops both or neither: a command run in the background (SIGINT ignored) keeps its
    child writing; a child ended by a signal is said so."""
    mark = tmp_path / "went on"

    def interrupted() -> None:
        os.kill(os.getpid(), signal.SIGINT)
        mark.write_text("yes")

    was = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        child = Forked.start(interrupted)
        assert child is not None
        child.wait()
    finally:
        signal.signal(signal.SIGINT, was)
    assert mark.read_text() == "yes"

    ended = Forked.start(lambda: os.kill(os.getpid(), signal.SIGTERM))
    assert ended is not None
    with pytest.raises(OSError, match="the process writing them was ended by SIGTERM"):
        ended.wait()
