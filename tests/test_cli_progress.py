"""Progress bars: drawn on a real terminal (a pseudo-terminal here), silent anywhere else."""

from __future__ import annotations

import ast
import fcntl
import io
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import pytest
from conftest import Trialwatch, demo_versions, write_config

from watcher.cli import progress as progress_module
from watcher.cli.progress import progress_bar
from watcher.config import load_settings
from watcher.registry.replay import ReplayRegistry, with_nct_id
from watcher.registry.replay_server import ReplayServer
from watcher.service.check import check_now
from watcher.service.digests import queue_digests
from watcher.service.wiring import open_store

ROOT = Path(__file__).resolve().parent.parent


def test_only_the_command_line_draws_bars() -> None:
    """tqdm is imported by `watcher/cli/progress.py` alone: the services and the core report
    progress through a plain callback, and the daemon draws nothing."""
    importers = set()
    for path in (ROOT / "watcher").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n == "tqdm" or n.startswith("tqdm.") for n in names):
                importers.add(path.relative_to(ROOT).as_posix())
    assert importers == {"watcher/cli/progress.py"}


def _terminal() -> tuple[int, int]:
    """A pseudo-terminal 100 columns wide: (the side a program writes to, the side read)."""
    reader, writer = pty.openpty()
    fcntl.ioctl(writer, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    return writer, reader


def _drain(fd: int) -> str:
    """What the terminal received so far."""
    data = b""
    while select.select([fd], [], [], 0.05)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", errors="replace")


@contextmanager
def _tty() -> Iterator[tuple[TextIO, int]]:
    writer, reader = _terminal()
    stream = os.fdopen(writer, "w", encoding="utf-8")
    try:
        yield stream, reader
    finally:
        stream.close()
        os.close(reader)


def test_a_bar_is_drawn_on_a_terminal_and_erased(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal the bar shows its label, done/total and unit as work advances, and the
    line is cleared when the work ends, so only the command's own output stays."""
    monkeypatch.setattr(progress_module, "SHOW_AFTER_S", 0)
    with _tty() as (stream, reader):
        assert stream.isatty()
        with progress_bar("Checking", "trials", as_json=False, stream=stream) as advance:
            assert advance is not None
            for done in range(1, 4):
                advance(done, 3)
                time.sleep(0.12)  # past tqdm's 0.1 s between redraws
        shown = _drain(reader)
    frames = [f for f in shown.split("\r") if f.strip()]
    assert frames and frames[0].startswith("Checking:")
    moved = [f for f in frames if "/3 " in f and "0/3" not in f]  # past the empty bar
    assert moved and "trials/s" in moved[-1]
    assert shown.rstrip(" ").endswith("\r")  # the last thing written blanks the line


def test_quick_work_draws_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Work over before `SHOW_AFTER_S` leaves the terminal untouched: no flicker."""
    monkeypatch.setattr(progress_module, "SHOW_AFTER_S", 5)
    with _tty() as (stream, reader):
        with progress_bar("Checking", "trials", as_json=False, stream=stream) as advance:
            assert advance is not None
            for done in range(1, 101):
                advance(done, 100)
        assert _drain(reader) == ""


def test_no_bar_off_a_terminal_or_with_json() -> None:
    """A pipe or file gets no bar (no callback is even made), nor does a terminal with --json."""
    with progress_bar("Checking", "trials", as_json=False, stream=io.StringIO()) as advance:
        assert advance is None
    with _tty() as (stream, reader):
        with progress_bar("Checking", "trials", as_json=True, stream=stream) as advance:
            assert advance is None
        assert _drain(reader) == ""


def _run_on_terminal(args: list[str], env: dict[str, str]) -> tuple[str, str]:
    """Run `python -m watcher ARGS` with stderr on a terminal, stdout on a pipe."""
    writer, reader = _terminal()
    process = subprocess.Popen(
        [sys.executable, "-m", "watcher", *args],
        stdout=subprocess.PIPE,
        stderr=writer,
        env=env,
        cwd=ROOT,
    )
    os.close(writer)
    shown = ""
    while process.poll() is None:
        shown += _drain(reader)
    shown += _drain(reader)
    os.close(reader)
    assert process.stdout is not None
    out = process.stdout.read().decode("utf-8")
    assert process.wait() == 0, shown
    return out, shown


TRIALS = 3000


@pytest.mark.slow
def test_first_check_of_thousands_of_trials_shows_progress(tmp_path: Path) -> None:
    """A first check of 3,000 trials (long enough for the bar: one of 1,000 now ends about when
    the bar would first be drawn) on the replay registry draws a bar on the terminal while
    it runs and prints a few lines of summary on stdout; with --json the terminal stays blank
    and stdout is JSON alone."""
    record = demo_versions("NCT06911827")[-1]
    ids = [f"NCT{90000000 + n:08d}" for n in range(TRIALS)]
    listing = tmp_path / "ids.txt"
    listing.write_text("\n".join(ids) + "\n", encoding="utf-8")
    with ReplayServer(ReplayRegistry({i: with_nct_id(record, i) for i in ids})) as server:
        config = write_config(tmp_path / "config.toml", server.base_url)
        env = {**os.environ, "TRIALWATCH_CONFIG": str(config), "STATE_DIRECTORY": str(tmp_path)}
        _run_on_terminal(["watch", "add", "--file", str(listing)], env)
        out, shown = _run_on_terminal(["check"], env)
        assert out.startswith(f"Checked {TRIALS} trial(s): {TRIALS} new version(s)")
        assert len(out.splitlines()) <= 10
        assert "\r" not in out
        frames = [f for f in shown.split("\r") if f.startswith("Checking:")]
        assert frames and f"/{TRIALS}" in frames[-1]
        out, shown = _run_on_terminal(["check", "--json"], env)
        assert json.loads(out)["checked"] == TRIALS
        assert "Checking" not in shown


def test_services_report_each_unit_of_work(
    trialwatch: Trialwatch, replay: ReplayServer, tmp_path: Path
) -> None:
    """Adding watches, a check and queueing digests each call the progress callback once per
    trial or subscriber, counting up to the total, with nothing to draw on."""
    before, after = demo_versions("NCT06911827")
    ids = [f"NCT{94000000 + n:08d}" for n in range(3)]
    replay.registry.publish(*(with_nct_id(before, i) for i in ids))
    settings = load_settings(trialwatch.config, env={"STATE_DIRECTORY": str(trialwatch.state_dir)})
    seen: list[tuple[int, int]] = []
    with open_store(settings) as store:
        store.add_watches(ids, datetime.now(UTC), progress=lambda *p: seen.append(p))
        assert seen == [(1, 3), (2, 3), (3, 3)]
        seen.clear()
        check_now(store, settings, datetime.now(UTC), env={}, progress=lambda *p: seen.append(p))
        assert seen == [(1, 3), (2, 3), (3, 3)]
    for n, nct_id in enumerate(ids):
        trialwatch("subscribe", f"c{n}@example.org", nct_id, "--digest", "daily")
    replay.registry.publish(*(with_nct_id(after, i) for i in ids))
    trialwatch("check")
    seen.clear()
    with open_store(settings) as store:
        run = queue_digests(
            store, settings, datetime.now(UTC), force=True, progress=lambda *p: seen.append(p)
        )
    assert run.queued["daily"] == 3
    assert seen == [(1, 3), (2, 3), (3, 3)]
