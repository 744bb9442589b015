"""A cold start's first versions prepared in a worker process: the same rows, nothing lost."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from conftest import demo_versions, publish_clones

from watcher.config import load_settings
from watcher.core import codec
from watcher.core.canonical import content_hash
from watcher.core.clean import clean_record
from watcher.delivery.feed_files import FirstFeeds, trial_feed_path
from watcher.registry.client import RegistryClient
from watcher.registry.replay_server import ReplayServer
from watcher.service.firsts import WORKER_FROM, prepare
from watcher.service.poll import run_cycle
from watcher.store.database import Store

pytestmark = pytest.mark.slow  # a thousand trials over HTTP, and a process of their own

T0 = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)
COUNT = WORKER_FROM + 37  # enough for the worker, and not a whole number of chunks


def _publish(replay: ReplayServer) -> dict[str, dict[str, Any]]:
    """COUNT trials cloned from two recorded ones, one with a control character to clean."""
    return publish_clones(replay, COUNT)


def _children() -> set[int]:
    """This process's worker processes, as the kernel lists its children (each thread's own;
    not multiprocessing's resource tracker, which stays for the life of the process)."""
    found: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        for pid in (task / "children").read_text().split():
            with contextlib.suppress(OSError):  # gone meanwhile
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.add(int(pid))
    return found


def _stored_as_prepared_here(store: Store, records: dict[str, dict[str, Any]]) -> None:
    """Every trial has one version: the keyframe, hash and title it would get in this process."""
    for nct_id, raw in records.items():
        cleaned = clean_record(raw)
        row = store.db.execute(
            "SELECT version, codec, raw, content_hash FROM versions WHERE nct_id = ?", [nct_id]
        ).fetchall()
        assert [tuple(r) for r in row] == [
            (1, *codec.encode(cleaned, None, 0), content_hash(cleaned))
        ], nct_id
    title = store.trial("NCT90000007").brief_title  # type: ignore[union-attr]
    assert title is not None and title.endswith(" (cleaned)") and "\x07" not in title


def test_many_new_watches_are_prepared_in_a_worker_and_stored_as_here(
    tmp_path: Path, client: RegistryClient, replay: ReplayServer
) -> None:
    """With WORKER_FROM new watches or more, a worker process prepares them while the poll
    fetches, and each is stored byte for byte as the poll would have stored it alone; the
    feeds it rendered are written, each trial's Atom and RSS with its title."""
    records = _publish(replay)
    seen: set[int] = set()
    settings = load_settings(None, {"STATE_DIRECTORY": str(tmp_path)})
    feeds = FirstFeeds(settings, T0)
    with Store(tmp_path / "trialwatch.db") as store:
        store.add_watches(sorted(records), T0)
        report = run_cycle(
            store,
            client,
            T0,
            full_check_every=timedelta(days=1),
            progress=lambda done, total: seen.update(_children()),
            firsts=feeds,
        )
        assert report.count("new_version") == COUNT and not report.count("failed")
        _stored_as_prepared_here(store, records)
    assert seen, "no worker process was started"
    assert not _children(), "the worker outlived the cycle"
    written, error = feeds.finish()
    assert error is None and written == set(records)
    for nct_id in records:
        for kind in ("atom", "rss"):
            feed = feedparser.parse(trial_feed_path(settings, nct_id, kind).read_bytes())
            assert feed.bozo == 0 and feed.feed.title.startswith(f"{nct_id}: ")
            assert not feed.entries


def test_a_worker_killed_mid_cycle_loses_nothing(
    tmp_path: Path, client: RegistryClient, replay: ReplayServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker killed halfway (out of memory, say): what it held is prepared by the poll
    itself, and so is the rest; every trial is stored once, and the log says it once."""
    records = _publish(replay)
    killed: list[int] = []

    def kill_once(done: int, total: int) -> None:
        if done >= COUNT // 3 and not killed:
            for pid in _children():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    with Store(tmp_path / "trialwatch.db") as store, caplog.at_level(logging.WARNING):
        store.add_watches(sorted(records), T0)
        report = run_cycle(
            store, client, T0, full_check_every=timedelta(days=1), progress=kill_once
        )
        assert killed
        assert report.count("new_version") == COUNT and not report.count("failed")
        _stored_as_prepared_here(store, records)
    said = [r.getMessage() for r in caplog.records if "without a worker process" in r.getMessage()]
    assert len(said) == 1


def test_a_record_that_cannot_be_prepared_fails_alone() -> None:
    """A record that cannot be cleaned or packed comes back as its trial's one-line reason;
    the others in its chunk are prepared."""
    good = demo_versions("NCT06911827")[0]
    bad = {**good, "protocolSection": {"identificationModule": {1: "a key that is not text"}}}
    done = prepare([("NCT06911827", good), ("NCT00000001", bad), ("NCT06911827", good)])
    assert done[1] == (
        "NCT00000001",
        "the record could not be processed (AttributeError: 'int' object has no attribute "
        "'isprintable')",
    )
    assert done[0] == done[2] and not isinstance(done[0], tuple)
