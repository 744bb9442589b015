"""`trialwatch run` as a real subprocess: readiness on a real notify socket, real signals.

Every wait is on something the daemon says (a datagram on the notify socket, its exit) or
does (a request to the replay registry, a message at the SMTP server), never a fixed sleep.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from conftest import GatedSink, MailSink, Trialwatch, demo_versions, write_config

from watcher.core.schedule import due_trials, earliest_check
from watcher.registry.replay import ReplayRegistry
from watcher.registry.replay_server import ReplayServer
from watcher.service.status import status_line
from watcher.store.rows import TrialRow

pytestmark = pytest.mark.slow  # the daemon runs as a subprocess and is signalled and timed

ROOT = Path(__file__).parent.parent
STARTED = demo_versions("NCT06911827")  # NOT_YET_RECRUITING -> RECRUITING, first site
STOPPED = demo_versions("NCT05935098")  # ACTIVE_NOT_RECRUITING -> TERMINATED
WAIT_S = 30.0  # the longest an awaited event may take (a cycle beside 3 commands on a busy CI)


class NotifySocket:
    """A real AF_UNIX datagram socket in the abstract namespace, as systemd's NOTIFY_SOCKET."""

    def __init__(self) -> None:
        self.name = f"trialwatch-test-{os.getpid()}-{secrets.token_hex(4)}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name)
        self.seen: list[dict[str, str]] = []
        self.log: Callable[[], str] = lambda: ""  # the daemon's stderr, shown on a timeout

    def wait_for(self, wanted: Callable[[dict[str, str]], bool]) -> dict[str, str]:
        """The next message `wanted` accepts; the test fails after WAIT_S seconds without."""
        deadline = time.monotonic() + WAIT_S
        while True:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096).decode("utf-8")
            except TimeoutError:
                pytest.fail(f"no such notification; the last ones: {self.seen[-3:]}\n{self.log()}")
            message = dict(line.split("=", 1) for line in data.splitlines())
            self.seen.append(message)
            if wanted(message):
                return message

    def ready(self) -> dict[str, str]:
        return self.wait_for(lambda m: m.get("READY") == "1")

    def cycle(self) -> dict[str, str]:
        """The STATUS the daemon sends when a poll cycle has been stored."""
        return self.wait_for(lambda m: "last cycle" in m.get("STATUS", "") and "READY" not in m)

    def close(self) -> None:
        self.sock.close()


class Daemon:
    """`python -m watcher run` in a subprocess, with its stderr kept in a file."""

    def __init__(self, config: Path, state_dir: Path, notify: NotifySocket, log: Path) -> None:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("JOURNAL_STREAM", "NOTIFY_SOCKET", "WATCHDOG_USEC", "TRIALWATCH_CONFIG")
        }
        env |= {
            "STATE_DIRECTORY": str(state_dir),
            "NOTIFY_SOCKET": f"@{notify.name}",
            "PYTHONPATH": str(ROOT),
        }
        self.log = log
        with log.open("ab") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "watcher", "--config", str(config), "run"],
                env=env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )

    @property
    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8")

    def send(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = WAIT_S) -> int:
        """The exit status; fails the test when the daemon is still running after `timeout`."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the daemon did not exit within {timeout} s; its log:\n{self.stderr}")


class Harness:
    """Starts daemons against one state directory and settings file; kills leftovers."""

    def __init__(self, tmp_path: Path, config: Path, state_dir: Path) -> None:
        self.tmp_path, self.config, self.state_dir = tmp_path, config, state_dir
        self.notify = NotifySocket()
        self.started: list[Daemon] = []

    def start(self) -> Daemon:
        daemon = Daemon(self.config, self.state_dir, self.notify, self.tmp_path / "daemon.log")
        self.started.append(daemon)
        self.notify.log = lambda: daemon.stderr
        return daemon

    def close(self) -> None:
        for daemon in self.started:
            if daemon.proc.poll() is None:
                daemon.proc.kill()
                daemon.proc.wait()
        self.notify.close()

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def harness(tmp_path: Path, trialwatch: Trialwatch) -> Iterator[Harness]:
    """Daemons sharing the `trialwatch` CLI fixture's settings file and state directory."""
    with Harness(tmp_path, trialwatch.config, trialwatch.state_dir) as h:
        yield h


def db_rows(state_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(state_dir / "trialwatch.db") as conn:
        return conn.execute(sql).fetchall()


def age_last_checks(state_dir: Path) -> None:
    """Pretend every trial was last checked long ago, so the daemon finds them all due."""
    with sqlite3.connect(state_dir / "trialwatch.db") as conn:
        conn.execute("UPDATE trials SET last_checked_at = '2000-01-01T00:00:00+00:00'")


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Wait for a condition the daemon brings about in another process (not for readiness)."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


# -- lifecycle ---------------------------------------------------------------------------


def test_starts_polls_stores_and_stops_on_sigterm(
    harness: Harness, trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """The daemon says READY, stores a first version, shows in `status`, and SIGTERM stops it."""
    replay.registry.publish(STARTED[0])
    trialwatch("watch", "add", "NCT06911827")
    daemon = harness.start()
    ready = harness.notify.ready()
    assert ready["STATUS"].startswith("watching 1 trial")
    status = harness.notify.cycle()
    assert status["STATUS"].startswith("watching 1 trial; last cycle ")
    assert db_rows(harness.state_dir, "SELECT nct_id, version FROM versions") == [
        ("NCT06911827", 1)
    ]

    seen = trialwatch.json("status")  # the CLI reads beside the running daemon
    assert seen["daemon"] == {"state": "running", "running": True, "pid": daemon.proc.pid}
    assert seen["trials"] == {"watched": 1, "failing": []}
    assert seen["last_cycle"]["checked"] == 1 and seen["last_cycle"]["new_versions"] == 1
    assert seen["outbox"]["pending"] == 0
    assert seen["next_check_at"] is not None
    assert "running (pid" in trialwatch("status").stdout

    daemon.send(signal.SIGTERM)
    assert daemon.wait(10) == 0
    assert harness.notify.wait_for(lambda m: m.get("STOPPING") == "1")
    assert not (harness.state_dir / "trialwatch.pid").exists()
    assert trialwatch.json("status")["daemon"]["state"] == "stopped"
    assert "Traceback" not in daemon.stderr


def test_bad_settings_at_start_exit_78_with_one_line(
    harness: Harness, trialwatch: Trialwatch
) -> None:
    """A wrong settings file stops `run` before anything starts: exit 78, one line on stderr."""
    trialwatch.config.write_text('[schedule]\ninterval = "10s"\n', encoding="utf-8")
    daemon = harness.start()
    assert daemon.wait() == 78
    lines = daemon.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    assert "interval" in lines[0]
    assert not (harness.state_dir / "trialwatch.pid").exists()


def test_sighup_picks_up_a_new_watch(
    harness: Harness, trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """A trial watched while the daemon runs is checked as soon as the daemon gets SIGHUP."""
    replay.registry.publish(STARTED[0], STOPPED[0])
    trialwatch("watch", "add", "NCT06911827")
    daemon = harness.start()
    harness.notify.ready()
    harness.notify.cycle()
    trialwatch("watch", "add", "NCT05935098")
    daemon.send(signal.SIGHUP)
    assert harness.notify.cycle()["STATUS"].startswith("watching 2 trials")
    assert db_rows(harness.state_dir, "SELECT nct_id, version FROM versions ORDER BY 1") == [
        ("NCT05935098", 1),
        ("NCT06911827", 1),
    ]
    assert "settings reloaded" in daemon.stderr
    daemon.send(signal.SIGTERM)
    assert daemon.wait() == 0


def test_sighup_with_broken_settings_keeps_the_old_ones(
    harness: Harness, trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """An invalid settings file at SIGHUP is logged, and polling goes on with the old settings."""
    replay.registry.publish(STARTED[0])
    trialwatch("watch", "add", "NCT06911827")
    daemon = harness.start()
    harness.notify.ready()
    harness.notify.cycle()
    write_config(trialwatch.config, "http://127.0.0.1:9/api/v2", '[schedule]\ninterval = "1s"\n')
    replay.reset_log()
    daemon.send(signal.SIGHUP)
    harness.notify.cycle()
    assert "settings not reloaded" in daemon.stderr
    assert "[schedule].interval" in daemon.stderr
    assert [r.path for r in replay.requests][:1] == ["/api/v2/version"]  # still the old registry
    assert daemon.proc.poll() is None
    daemon.send(signal.SIGTERM)
    assert daemon.wait() == 0


def signal_thread(pid: int, tid: int, signum: int) -> None:
    """Send `signum` to one thread of process `pid` (tgkill), as the kernel may itself do with a
    signal sent to the whole process: any thread that does not block it may take it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.tgkill(pid, tid, signum) != 0:
        raise OSError(ctypes.get_errno(), f"tgkill({pid}, {tid}, {signum})")


def other_threads(pid: int) -> list[int]:
    """The ids of the threads of process `pid` other than its main thread."""
    tids = (int(task.name) for task in Path(f"/proc/{pid}/task").iterdir())
    return sorted(tid for tid in tids if tid != pid)


def wait_until_main_thread_sleeps(pid: int) -> None:
    """Wait until the main thread of `pid` has been asleep for 20 samples in a row (0.2 s): the
    scheduler waits for its next job, which is a minute away once the first cycle is done."""
    asleep = 0

    def sleeping() -> bool:
        nonlocal asleep
        stat = Path(f"/proc/{pid}/task/{pid}/stat").read_text(encoding="ascii")
        asleep = asleep + 1 if stat.rpartition(")")[2].split()[0] == "S" else 0
        time.sleep(0.01)
        return asleep >= 20

    wait_until(sleeping, "the daemon's main thread to wait for its next job")


def test_signals_taken_by_any_thread_act_at_once(
    harness: Harness, trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """A signal that the kernel hands to a thread other than the main one (a job's, the control
    thread) acts at once, not when the scheduler next wakes a minute later: each SIGHUP is one
    reload and one cycle, and SIGTERM stops the daemon."""
    replay.registry.publish(STARTED[0])
    trialwatch("watch", "add", "NCT06911827")
    daemon = harness.start()
    harness.notify.ready()
    harness.notify.cycle()
    pid = daemon.proc.pid
    threads = other_threads(pid)
    assert threads, "the daemon runs its jobs and signals in threads of their own"
    for n, tid in enumerate(threads, start=1):
        wait_until_main_thread_sleeps(pid)
        signal_thread(pid, tid, signal.SIGHUP)
        harness.notify.cycle()
        assert daemon.stderr.count("SIGHUP: settings reloaded") == n
    wait_until_main_thread_sleeps(pid)
    signal_thread(pid, threads[0], signal.SIGTERM)
    assert daemon.wait() == 0
    assert "Traceback" not in daemon.stderr


# -- stopping while the registry is slow ---------------------------------------------------


class WatchedRegistry(ReplayRegistry):
    """The replay registry, telling the test when a slow answer has begun.

    `hold_back`: once the first full record is served, every other trial named here answers
    slowly, so a cycle can be caught between two trials' transactions.
    """

    def __init__(self) -> None:
        super().__init__()
        self.slow_begun = threading.Event()
        self.hold_back: set[str] = set()

    def reply(self, path: str, query: str) -> Any:
        answer = super().reply(path, query)
        params = parse_qs(query)
        if self.hold_back and "/studies" in path and "fields" not in params:  # a full record
            ids = params.get("filter.ids", [path.rpartition("/")[2]])
            served = set(ids[0].split(","))
            for nct_id in sorted(self.hold_back - served):
                self.fail("slow", times=None, nct_id=nct_id, delay=30)
            self.hold_back = set()
        if answer.delay_s:
            self.slow_begun.set()
        return answer


@pytest.fixture
def slow_replay() -> Iterator[ReplayServer]:
    with ReplayServer(WatchedRegistry()) as server:
        yield server


@pytest.fixture
def slow_harness(tmp_path: Path, slow_replay: ReplayServer) -> Iterator[Harness]:
    """Daemons against the slow registry; patient enough (30 s) that a request really hangs."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[registry]\nbase_url = "{slow_replay.base_url}"\ntimeout_s = 30.0\n'
        "requests_per_minute = 0\nmax_retries = 0\nrecords_per_request = 1\n",
        encoding="utf-8",
    )
    with Harness(tmp_path, config, tmp_path / "state") as h:
        yield h


def _cli(h: Harness) -> Trialwatch:
    return Trialwatch(h.state_dir, h.config)


def test_sigterm_during_a_stuck_request_exits_0_within_10_s(
    slow_harness: Harness, slow_replay: ReplayServer
) -> None:
    """SIGTERM while the registry hangs: the daemon gives up on the request and exits 0 in time."""
    registry = slow_replay.registry
    assert isinstance(registry, WatchedRegistry)
    registry.publish(STARTED[0])
    _cli(slow_harness)("watch", "add", "NCT06911827")
    registry.fail("slow", times=None, delay=30)
    daemon = slow_harness.start()
    slow_harness.notify.ready()
    assert registry.slow_begun.wait(WAIT_S)
    started = time.monotonic()
    daemon.send(signal.SIGTERM)
    assert daemon.wait(10) == 0
    assert time.monotonic() - started < 10
    assert "stopping without waiting longer" in daemon.stderr


def test_second_signal_exits_at_once_and_the_database_stays_whole(
    slow_harness: Harness, slow_replay: ReplayServer
) -> None:
    """A second SIGTERM ends the daemon at once, mid-request, and leaves a sound database."""
    registry = slow_replay.registry
    assert isinstance(registry, WatchedRegistry)
    registry.publish(STARTED[0])
    _cli(slow_harness)("watch", "add", "NCT06911827")
    registry.fail("slow", times=None, delay=30)
    daemon = slow_harness.start()
    slow_harness.notify.ready()
    assert registry.slow_begun.wait(WAIT_S)
    daemon.send(signal.SIGTERM)
    slow_harness.notify.wait_for(lambda m: m.get("STOPPING") == "1")
    daemon.send(signal.SIGTERM)
    assert daemon.wait(2) == 128 + signal.SIGTERM
    assert db_rows(slow_harness.state_dir, "PRAGMA integrity_check") == [("ok",)]


def test_sigkill_mid_cycle_then_restart_loses_no_change(
    slow_harness: Harness, slow_replay: ReplayServer
) -> None:
    """Killed between two trials' transactions, the daemon's next run stores what was missed."""
    registry = slow_replay.registry
    assert isinstance(registry, WatchedRegistry)
    cli = _cli(slow_harness)
    registry.publish(STARTED[0], STOPPED[0])
    cli("watch", "add", "NCT06911827", "NCT05935098")
    cli("check")
    age_last_checks(slow_harness.state_dir)
    registry.publish(STARTED[1], STOPPED[1])
    registry.hold_back = {"NCT06911827", "NCT05935098"}

    daemon = slow_harness.start()
    slow_harness.notify.ready()
    assert registry.slow_begun.wait(WAIT_S)
    daemon.proc.kill()
    assert daemon.wait() == -signal.SIGKILL

    state = slow_harness.state_dir
    assert db_rows(state, "PRAGMA integrity_check") == [("ok",)]
    versions = db_rows(state, "SELECT nct_id, MAX(version) FROM versions GROUP BY 1 ORDER BY 1")
    assert sorted(v for _, v in versions) == [1, 2]  # one trial stored whole, one not begun
    assert cli.json("status")["daemon"]["state"] == "crashed"

    registry.clear_faults()
    again = slow_harness.start()
    slow_harness.notify.ready()
    slow_harness.notify.cycle()
    assert db_rows(state, "SELECT nct_id, version FROM versions ORDER BY 1, 2") == [
        ("NCT05935098", 1),
        ("NCT05935098", 2),
        ("NCT06911827", 1),
        ("NCT06911827", 2),
    ]
    changed = db_rows(state, "SELECT DISTINCT nct_id, to_version FROM changes ORDER BY 1")
    assert changed == [("NCT05935098", 2), ("NCT06911827", 2)]
    again.send(signal.SIGTERM)
    assert again.wait() == 0


# -- delivery ------------------------------------------------------------------------------


def _smtp_config(config: Path, base_url: str, port: int, extra: str = "") -> None:
    write_config(
        config,
        base_url,
        f"""[mail]
from = "trialwatch <trialwatch@example.org>"
{extra}
[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
""",
    )


def test_a_change_between_two_cycles_reaches_the_subscriber_once(
    harness: Harness,
    trialwatch: Trialwatch,
    replay: ReplayServer,
    smtp_server: tuple[MailSink, int],
) -> None:
    """A subscriber gets exactly one email when their trial changes between two daemon cycles."""
    sink, port = smtp_server
    _smtp_config(trialwatch.config, replay.base_url, port)
    replay.registry.publish(STOPPED[0])
    trialwatch("watch", "add", "NCT05935098")
    trialwatch("subscribe", "reader@example.org", "NCT05935098")
    trialwatch("deliver")  # the welcome email, before the change this test is about
    sink.messages.clear()
    daemon = harness.start()
    harness.notify.ready()
    harness.notify.cycle()
    assert sink.messages == []  # a first version is nobody's news

    replay.registry.publish(STOPPED[1])
    daemon.send(signal.SIGHUP)
    harness.notify.cycle()
    outbox = trialwatch.json("status")["outbox"]
    assert outbox["pending"] + outbox["sent"] == 2, outbox  # the welcome; the change, queued
    wait_until(lambda: bool(sink.messages), "the email at the SMTP server")
    wait_until(lambda: trialwatch.json("status")["outbox"]["pending"] == 0, "the outbox drained")

    assert len(sink.messages) == 1
    email = sink.messages[0]
    assert email["To"] == "reader@example.org"
    assert "NCT05935098" in email["Subject"] or "NCT05935098" in email.as_string()
    assert email["List-Unsubscribe"]
    assert trialwatch.json("status")["outbox"]["last_delivery"] is not None
    assert "reader@example.org" not in daemon.stderr  # addresses never reach the log
    daemon.send(signal.SIGTERM)
    assert daemon.wait() == 0


def test_a_removed_trial_alerts_the_admin_once(
    harness: Harness,
    trialwatch: Trialwatch,
    replay: ReplayServer,
    smtp_server: tuple[MailSink, int],
) -> None:
    """A watched trial the registry no longer has is one email to the admin, not one per check."""
    sink, port = smtp_server
    _smtp_config(
        trialwatch.config,
        replay.base_url,
        port,
        'admin = "admin@example.org"\n[schedule]\nfailing_after = 1\n',
    )
    replay.registry.publish(STARTED[0])
    trialwatch("watch", "add", "NCT06911827", "NCT05935098")  # the second is not published
    daemon = harness.start()
    harness.notify.ready()
    assert "1 failing" in harness.notify.cycle()["STATUS"]
    wait_until(lambda: bool(sink.messages), "the admin's alert")
    daemon.send(signal.SIGHUP)  # another cycle: the trial fails again
    harness.notify.cycle()
    outbox = trialwatch.json("status")["outbox"]
    assert outbox["pending"] + outbox["sent"] == 1, outbox

    alert = sink.messages[0]
    assert alert["To"] == "admin@example.org"
    assert alert["Subject"] == "trialwatch: NCT05935098 is no longer in the registry"
    assert alert["List-Unsubscribe"] is None
    text = alert.get_body(("plain",))
    html = alert.get_body(("html",))
    assert text is not None and "404" in text.get_content()
    assert html is not None and "<p>" in html.get_content()
    assert "health: NCT05935098 is no longer in the registry" in daemon.stderr
    daemon.send(signal.SIGTERM)
    assert daemon.wait() == 0


def test_a_registry_outage_is_one_alert_and_its_end_one_more(
    harness: Harness,
    trialwatch: Trialwatch,
    replay: ReplayServer,
    smtp_server: tuple[MailSink, int],
) -> None:
    """Registry down for several cycles, then back: the admin gets two emails, not one per check."""
    sink, port = smtp_server
    _smtp_config(
        trialwatch.config,
        replay.base_url,
        port,
        'admin = "admin@example.org"\n[schedule]\nfailing_after = 2\n',
    )
    replay.registry.publish(STARTED[0], STOPPED[0])
    trialwatch("watch", "add", "NCT06911827", "NCT05935098")
    replay.registry.fail("503", times=None)
    daemon = harness.start()
    harness.notify.ready()
    harness.notify.cycle()
    for _ in range(3):  # three more failing cycles
        daemon.send(signal.SIGHUP)
        harness.notify.cycle()
    wait_until(lambda: trialwatch.json("status")["outbox"]["pending"] == 0, "the alert sent")
    assert [m["Subject"] for m in sink.messages] == [
        "trialwatch: the registry is failing for every watched trial (2)"
    ]

    replay.registry.clear_faults()
    daemon.send(signal.SIGHUP)
    harness.notify.cycle()
    wait_until(lambda: len(sink.messages) == 2, "the all-clear")
    daemon.send(signal.SIGHUP)
    harness.notify.cycle()
    wait_until(lambda: trialwatch.json("status")["outbox"]["pending"] == 0, "the outbox drained")
    assert [m["Subject"] for m in sink.messages][1:] == ["trialwatch: the registry answers again"]
    daemon.send(signal.SIGTERM)
    assert daemon.wait() == 0


def test_sigkill_during_delivery_then_restart_sends_the_email_once(
    harness: Harness,
    trialwatch: Trialwatch,
    replay: ReplayServer,
    gated_smtp_server: tuple[GatedSink, int],
) -> None:
    """Killed while talking to the mail server, the restarted daemon sends the email, once."""
    sink, port = gated_smtp_server
    _smtp_config(trialwatch.config, replay.base_url, port)
    replay.registry.publish(STOPPED[0])
    trialwatch("watch", "add", "NCT05935098")
    trialwatch("subscribe", "reader@example.org", "NCT05935098")
    trialwatch("deliver")  # the welcome email, before the change this test is about
    sink.messages.clear()
    sink.held.clear()  # held again only by the change email
    daemon = harness.start()
    harness.notify.ready()
    harness.notify.cycle()

    replay.registry.publish(STOPPED[1])
    sink.gate.clear()
    daemon.send(signal.SIGHUP)
    assert sink.held.wait(WAIT_S), daemon.stderr  # the daemon is mid-delivery
    daemon.proc.kill()
    daemon.wait()
    sink.gate.set()
    assert sink.messages == []

    again = harness.start()
    harness.notify.ready()
    wait_until(lambda: bool(sink.messages), "the email after the restart")
    wait_until(lambda: trialwatch.json("status")["outbox"]["pending"] == 0, "the outbox drained")
    again.send(signal.SIGHUP)  # one more cycle and delivery: still one email
    harness.notify.cycle()
    assert len(sink.messages) == 1
    assert sink.messages[0]["Subject"].startswith("NCT05935098")
    again.send(signal.SIGTERM)
    assert again.wait() == 0


# -- when trials are due (pure) --------------------------------------------------------------

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _trial(nct_id: str, checked: datetime | None, every: timedelta | None = None) -> TrialRow:
    return TrialRow(
        nct_id=nct_id,
        watched=True,
        added_at=NOW.isoformat(),
        every_s=int(every.total_seconds()) if every else None,
        current_version=1 if checked else None,
        brief_title=None,
        overall_status=None,
        last_update_posted=None,
        last_checked_at=checked.isoformat() if checked else None,
        last_success_at=checked.isoformat() if checked else None,
        seen_release=None,
        consecutive_failures=0,
        last_error=None,
    )


def test_after_a_restart_only_the_trials_due_are_checked() -> None:
    """A restart resumes from the stored check times: no burst, nothing overdue left out."""
    trials = [
        _trial("NCT00000001", None),  # never checked
        _trial("NCT00000002", NOW - 2 * HOUR),  # overdue
        _trial("NCT00000003", NOW - HOUR + timedelta(seconds=30)),  # due before the next tick
        _trial("NCT00000004", NOW - timedelta(minutes=10)),  # checked just before the restart
        _trial("NCT00000005", NOW - 2 * HOUR, every=6 * HOUR),  # its own, longer interval
    ]
    assert due_trials(trials, HOUR, NOW) == ["NCT00000001", "NCT00000002", "NCT00000003"]
    assert earliest_check(trials[3:], HOUR, NOW) == NOW + timedelta(minutes=50)
    assert earliest_check([], HOUR, NOW) is None


def test_status_line_reads_like_the_issue_asks() -> None:
    """`systemctl status` shows the trials watched, the last cycle and any failing trials."""
    from watcher.service.status import CycleSummary

    last = CycleSummary(NOW.isoformat(), 42, 3, 3, 0, 2)
    at = NOW.astimezone().strftime("%H:%M")
    assert status_line(42, 0, last) == f"watching 42 trials; last cycle {at}, 3 changes"
    assert status_line(1, 1, None) == "watching 1 trial; first cycle starting; 1 failing"
    assert status_line(0, 0, None).startswith("watching no trials yet")
