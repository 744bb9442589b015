"""The daemon behind `trialwatch run`: the scheduler, signals, reload, shutdown, systemd.

Why it looks like this:
- One APScheduler `BlockingScheduler` runs the jobs of `watcher.service.jobs.JOBS` (plus the
  systemd watchdog job when `WatchdogSec=` is set), each with `max_instances=1` and
  `coalesce` (a late or slow run is never doubled up) and a `misfire_grace_time`. The daemon
  only runs them; what each job does, and when trials are due, is decided elsewhere.
- Signals reach a control thread through the wakeup fd (`_route_signals`), not through a
  Python handler: CPython runs those only in the main thread, which sleeps in the scheduler
  until its next job, up to a minute away, when the kernel gave the signal to another thread.
  The control thread acts on them; several SIGHUPs read together are one reload. The first
  SIGTERM or SIGINT stops the scheduler and lets the cycle finish the trial in hand
  (`run_cycle` asks `should_stop` between trials), then exits 0. A registry request still
  unanswered after `STOP_GRACE_S` is abandoned: nothing of it has been stored. A second signal
  exits at once; every write is one SQLite transaction in WAL mode, so the database stays
  whole either way.
- SIGHUP rereads the settings (an invalid file is logged and the old settings stay) and checks
  every watched trial at once, due or not: a new watch or a new interval takes effect now, and
  an admin has a way to say "look now" (cheap: an unmoved data release costs one request).
  No job's timing depends on a setting, so the schedule itself is left as it is.
- One daemon per state directory: its pid file (`watcher.service.pidfile`) is locked while it
  runs.
- The database is created on the first start only. Before each job the daemon checks that the
  file it opened at start is still there (same inode); when the state directory was deleted or
  the file replaced, it logs why and exits 1 instead of carrying on with a new, empty one.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_SCHEDULER_STARTED,
    JobExecutionEvent,
)
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.base import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from watcher import __version__
from watcher.config import Settings, format_duration, load_settings, preflight
from watcher.errors import ConfigError, WatcherError
from watcher.service.jobs import JOBS, JobSpec, watchdog_job
from watcher.service.logs import set_level
from watcher.service.pidfile import PID_FILE, PidFile
from watcher.service.poll import RecentVersions
from watcher.service.sdnotify import Notifier, watchdog_period
from watcher.service.status import CycleSummary, status_line
from watcher.service.wiring import open_store
from watcher.store.database import Store

log = logging.getLogger(__name__)

# How long the first SIGTERM waits for the trial in hand; systemd's target is 10 s in all.
STOP_GRACE_S = 5.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _Busy:
    """Counts jobs in progress, so a stop can wait for them with a deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._count = 0

    @contextmanager
    def running(self) -> Iterator[None]:
        with self._cond:
            self._count += 1
        try:
            yield
        finally:
            with self._cond:
                self._count -= 1
                self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """True once no job runs; False when one still does after `timeout` seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: self._count == 0, timeout)


class _QuietOverlap(logging.Filter):
    """Drops APScheduler's warning that a tick found the previous run still going.

    With one-minute ticks a long cycle (the first fetch of thousands of trials) overlaps many
    ticks; `max_instances=1` skipping them is the intended behaviour, not something to warn an
    admin about every minute.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in str(record.msg)


class Daemon:
    """One run of `trialwatch run`, from the pid file to the exit code."""

    def __init__(
        self,
        settings: Settings,
        config_path: Path | None,
        env: Mapping[str, str] | None = None,
        jobs: Sequence[JobSpec] = JOBS,
    ) -> None:
        self.env = os.environ if env is None else env
        self._settings = settings
        self.config_path = config_path
        self.jobs = tuple(jobs)
        self.notifier = Notifier(self.env)
        self.recent = RecentVersions()  # the latest versions, kept across cycles
        self._watchdog = watchdog_period(self.env, os.getpid())
        self._stop = threading.Event()
        self._check_all = False  # a SIGHUP's "check every trial", until the poll job takes it
        self._check_all_lock = threading.Lock()  # a SIGHUP between a read and a reset is kept
        self._stop_signal_seen = False
        self._busy = _Busy()
        self._stopping_sent = False
        self._ready_status = ""
        self._database_inode: int | None = None  # of the file opened at start
        self._exit_code = 0
        self.scheduler = BlockingScheduler()

    # -- what jobs use ----------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The settings in effect (SIGHUP may replace them between job runs)."""
        return self._settings

    def open_store(self) -> Store:
        """A connection of the calling job's own, to the database opened at start (never a new
        one: `_database_in_place` stops the daemon when it is gone)."""
        return open_store(self._settings, create=False)

    def now(self) -> datetime:
        """The daemon's clock."""
        return datetime.now(UTC)

    def should_stop(self) -> bool:
        """True once a stop was asked for: jobs end after the item in hand."""
        return self._stop.is_set()

    def take_check_all(self) -> bool:
        """True once after SIGHUP: the next poll checks every trial, due or not."""
        with self._check_all_lock:
            asked, self._check_all = self._check_all, False
        return asked

    def run_soon(self, job_id: str) -> None:
        """Run a job now rather than at its next time (a no-op for a job not scheduled)."""
        with suppress(JobLookupError, SchedulerNotRunningError):
            self.scheduler.modify_job(job_id, next_run_time=self.now())

    # -- lifecycle --------------------------------------------------------------------------

    def run(self) -> int:
        """Run until stopped; the exit code: 0 after a stop signal, 1 after an unexpected error.

        A `WatcherError` before the scheduler starts (another daemon running, an unusable
        database) is raised for the CLI to print.
        """
        pid_file = PidFile(self._settings.state_dir / PID_FILE)
        pid_file.acquire()
        try:
            with open_store(self._settings) as store:  # create, migrate, or fail now
                self._database_inode = store.inode
                watched, failing = store.watch_summary(self._settings.schedule.failing_after)
                self._ready_status = status_line(watched, len(failing), CycleSummary.read(store))
            log.info(
                "trialwatch %s: watching %d trial(s), every %s; database %s",
                __version__,
                watched,
                format_duration(self._settings.schedule.interval),
                self._settings.storage.database,
            )
            code = self._serve()
            if not self._busy.wait_idle(STOP_GRACE_S):
                log.warning(
                    "stopping without waiting longer for a registry request; nothing of it "
                    "was stored, and it is made again at the next start"
                )
                self._exit_now(pid_file, code)
            return code
        finally:
            self._send_stopping()
            self.notifier.close()
            pid_file.release()

    def _serve(self) -> int:
        """Schedule the jobs and run the scheduler until a stop signal or an error."""
        logging.getLogger("apscheduler.scheduler").addFilter(_QuietOverlap())
        for spec in self._all_jobs():
            options: dict[str, Any] = {}
            if spec.eager:
                options["next_run_time"] = self.now()
            self.scheduler.add_job(
                self._runner(spec),
                trigger=IntervalTrigger(seconds=spec.every.total_seconds(), jitter=spec.jitter_s),
                id=spec.id,
                name=spec.id,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=spec.misfire_grace_s,
                **options,
            )
        signals = _route_signals()
        self.scheduler.add_listener(partial(self._started, signals), EVENT_SCHEDULER_STARTED)
        self.scheduler.add_listener(self._job_done, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        try:
            self.scheduler.start()  # returns once the control thread shuts it down
        except Exception:
            log.exception("unexpected error; stopping")
            self._stop.set()
            self._shutdown_scheduler()
            return 1
        return self._exit_code

    def _job_done(self, event: JobExecutionEvent) -> None:
        """A SIGHUP that came while the poll job was finishing found it still running (so its
        "run now" was skipped as an overlap) and left its request pending: honour it now that
        the job is done. APScheduler counts the run as finished before it calls this."""
        if event.job_id == "poll" and self._check_all and not self.should_stop():
            self.run_soon("poll")

    def _all_jobs(self) -> tuple[JobSpec, ...]:
        if self._watchdog is None:
            return self.jobs
        return (*self.jobs, watchdog_job(self._watchdog))

    def _runner(self, spec: JobSpec) -> Callable[[], None]:
        def run_job() -> None:
            if self._stop.is_set() or not self._database_in_place():
                return
            with self._busy.running():
                try:
                    spec.run(self)
                except WatcherError as exc:
                    log.error("%s: %s", spec.id, exc)
                except Exception:
                    log.exception("%s failed unexpectedly; it runs again at its next time", spec.id)

        return run_job

    def _database_in_place(self) -> bool:
        """False, and the daemon stopping with exit 1, once the database file opened at start
        is gone or replaced (opening it again would create an empty one)."""
        path = self._settings.storage.database
        try:
            in_place = path.stat().st_ino == self._database_inode
        except OSError:
            in_place = False
        if not in_place:
            log.error(
                "%s: the database is gone or was replaced while trialwatch ran (was the state "
                "directory deleted?); stopping rather than starting an empty one. Put the file "
                "back from a backup, or start trialwatch again to begin a new database",
                path,
            )
            self._exit_code = 1
            self._stop.set()
            self._shutdown_scheduler()
        return in_place

    def _started(self, signals: int, event: object) -> None:
        """The scheduler runs: take signals from now on, and tell systemd we are ready."""
        threading.Thread(target=self._control, args=(signals,), name="signals", daemon=True).start()
        self.notifier.ready(self._ready_status)

    def _control(self, signals: int) -> None:
        """Act on the signals read from `signals` (see `_route_signals`), outside any signal
        handler, where taking locks is safe: the first stop signal stops, a second exits now;
        SIGHUPs read together are one reload and one check of every trial."""
        while received := os.read(signals, 64):
            for signum in received:
                if signum in STOP_SIGNALS:
                    self._stop_on(signal.Signals(signum))
            if signal.SIGHUP in received and not self._stop_signal_seen:
                self.reload()

    def _stop_on(self, signum: signal.Signals) -> None:
        """Stop after the trial in hand; at a second stop signal, exit at once."""
        if self._stop_signal_seen:
            os._exit(128 + signum)
        self._stop_signal_seen = True
        log.info(
            "%s: finishing the trial in hand, then stopping (again: stop at once)", signum.name
        )
        self._stop.set()
        self._send_stopping()
        self._shutdown_scheduler()

    def _shutdown_scheduler(self) -> None:
        with suppress(SchedulerNotRunningError):
            self.scheduler.shutdown(wait=False)

    def _send_stopping(self) -> None:
        if not self._stopping_sent:
            self._stopping_sent = True
            self.notifier.stopping("stopping")

    def _exit_now(self, pid_file: PidFile, code: int) -> None:
        """Leave without joining the job thread that is stuck in a request."""
        self._send_stopping()
        pid_file.release()
        logging.shutdown()
        os._exit(code)

    def reload(self) -> None:
        """SIGHUP: reread the settings (keeping the old ones if the file is wrong), check now."""
        try:
            new = load_settings(self.config_path, env=self.env)
            warnings = preflight(new, self.env)
        except ConfigError as exc:
            log.error("SIGHUP: settings not reloaded, the previous ones stay in effect: %s", exc)
        else:
            for warning in warnings:
                log.warning("SIGHUP: %s", warning)
            old = self._settings
            if new.storage.database != old.storage.database:
                log.warning(
                    "SIGHUP: [storage].database changed; %s stays in use until a restart",
                    old.storage.database,
                )
                new = replace(new, storage=old.storage)
            self._settings = new
            set_level(new.log.level)
            log.info("SIGHUP: settings reloaded from %s", new.source or "built-in defaults")
        with self._check_all_lock:
            self._check_all = True
        for spec in self.jobs:
            if spec.eager:
                self.run_soon(spec.id)


def _route_signals() -> int:
    """Have every stop signal and SIGHUP written, one byte each, to a pipe; return its reading
    end, for the control thread (signals that come before it starts wait there).

    A signal sent to the process goes to whichever of its threads the kernel picks (a thread
    starting up, for one, may take it as it unblocks signals). CPython's C handler runs in that
    thread and leaves the Python handler to the main thread, which runs it only when it next
    wakes: here, from the scheduler's wait for its next job, up to a minute later. The C handler
    writes the wakeup fd at once, whichever thread it runs in. The pipe stays open until the
    process exits: the control thread reads it until then (a second stop signal can come while
    `run` waits for the job in hand).
    """
    reading, writing = os.pipe()
    os.set_blocking(writing, False)  # the C handler must never block
    for signum in (*STOP_SIGNALS, signal.SIGHUP):
        signal.signal(signum, _through_wakeup_fd)
    signal.set_wakeup_fd(writing, warn_on_full_buffer=False)
    return reading


def _through_wakeup_fd(signum: int, frame: FrameType | None) -> None:
    """Nothing: the signal already reached the control thread through the wakeup fd (see
    `_route_signals`); a Python handler is what makes CPython catch it at all."""
