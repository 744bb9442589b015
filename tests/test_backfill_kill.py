"""A backfill killed halfway (a real `trialwatch backfill` process, SIGKILL), then run again,
ends with the same store as one never interrupted: each version is its own transaction, with
the plan's progress, so a kill loses at most the version in hand and the rerun reads it again.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Trialwatch
from test_backfill import STOPPED, chain_of, cli, serve, synthetic_chain, tables

from watcher.registry.replay_server import ReplayServer

pytestmark = pytest.mark.slow  # real subprocesses
ROOT = Path(__file__).resolve().parent.parent
VERSIONS = 30


def progress(database: Path) -> int:
    """The next registry version the backfill will read (0 before it has a plan)."""
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
            row = db.execute("SELECT next FROM backfills").fetchone()
    except sqlite3.OperationalError:  # no table yet, or busy for a moment
        return 0
    return 0 if row is None else int(row[0])


def start(run: Trialwatch, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "TRIALWATCH_CONFIG": str(run.config),
        "STATE_DIRECTORY": str(run.state_dir),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "watcher", *args],
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_kill_halfway_then_a_rerun_ends_as_an_uninterrupted_run(
    tmp_path: Path, replay: ReplayServer
) -> None:
    serve(replay, STOPPED, synthetic_chain(chain_of(STOPPED)[0], VERSIONS))
    replay.set_round_trip(0.03)  # slow enough to be caught halfway
    runs = {}
    for name in ("killed", "whole"):
        (tmp_path / name).mkdir()
        runs[name] = cli(tmp_path / name, replay)
        runs[name]("watch", "add", STOPPED)
        runs[name]("check")  # a polled version first: the past goes before it
    killed = runs["killed"]
    database = killed.state_dir / "trialwatch.db"
    proc = start(killed, "backfill")
    deadline = time.monotonic() + 30
    while progress(database) < VERSIONS // 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    stopped_at = progress(database)
    assert 0 < stopped_at < VERSIONS - 1, "the kill came too late to test anything"

    rerun = start(killed, "backfill")
    _, errors = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, errors
    whole = start(runs["whole"], "backfill")
    _, errors = whole.communicate(timeout=60)
    assert whole.returncode == 0, errors

    resumed = tables(database)
    assert resumed == tables(runs["whole"].state_dir / "trialwatch.db")
    assert len(resumed["versions"]) == VERSIONS  # 29 from the history and the polled one
