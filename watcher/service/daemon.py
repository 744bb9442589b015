"""The daemon behind `trialwatch run`: jobs on a schedule, signals, systemd, a pid file.

Why it looks like this:
- One APScheduler `BlockingScheduler` runs the jobs listed in `JOBS`: an id, a trigger built
  from the settings (so SIGHUP can rebuild it), and the function. Every job runs with
  `max_instances=1` and `coalesce` (a late or slow run is never doubled up) and a
  `misfire_grace_time`; polling, delivery and digests are one row each.
- After a cycle, the steps in `AFTER_CYCLE` run in its thread: health alerts (the state and
  the admin's emails in one transaction), the feeds of the trials that changed, and a nudge to
  the delivery job so new messages leave now rather than at the next minute.
- Polling is a one-minute tick (with jitter, so a fleet of trialwatch installs does not knock
  at the same second) that checks only the trials that are *due*: never checked, or last
  checked their interval ago (`watch add --every`, else `[schedule].interval`), a tick early
  rather than a tick late. Due-ness is read from the stored `last_checked_at`, so after a
  restart the schedule resumes where it was: no burst of every trial, none skipped for longer
  than its interval. Trials checked together stay due together, so their cycles stay batched.
- Signal handlers only record the signal; a control thread acts on it. The first SIGTERM or
  SIGINT stops the scheduler and lets the cycle finish the trial in hand (`run_cycle` asks
  `should_stop` between trials), then exits 0. A registry request still unanswered after
  `STOP_GRACE_S` is abandoned: nothing of it has been stored. A second signal exits at once;
  every write is one SQLite transaction in WAL mode, so the database stays whole either way.
  SIGHUP rereads the settings (an invalid file is logged and the old settings stay) and checks
  every watched trial at once, due or not: a new watch or a new interval takes effect now, and
  an admin has a way to say "look now" (cheap: an unmoved data release costs one request).
- Each job run opens its own `Store` (one SQLite connection per thread); WAL and the busy
  timeout let the CLI read and write beside it.
- The pid file is locked (flock) while the daemon runs: the lock, not the pid, says whether a
  daemon is alive, so a pid file left by a crash (its pid maybe reused) is never taken for one.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import queue
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Literal

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
from watcher.config import Settings, format_duration, load_settings
from watcher.core.health import HealthState, TrialCheck, alert_email, assess
from watcher.core.schedule import TICK, TICK_JITTER_S, due_trials, earliest_check
from watcher.core.wording.exact import summarize_line
from watcher.delivery.feed_files import write_feeds
from watcher.delivery.outbox import deliver_due
from watcher.errors import ConfigError, TrialNotFound, WatcherError
from watcher.service.digests import queue_digests
from watcher.service.logs import set_level
from watcher.service.poll import CycleReport, run_cycle
from watcher.service.sdnotify import Notifier, watchdog_period
from watcher.service.wiring import notice_planner, open_store, registry_client
from watcher.store.database import Store, TrialRow

log = logging.getLogger(__name__)

# How long the first SIGTERM waits for the trial in hand; systemd's target is 10 s in all.
STOP_GRACE_S = 5.0
PID_FILE = "trialwatch.pid"
META_LAST_CYCLE = "daemon.last_cycle"
META_HEALTH = "health"  # HealthState.to_json(): what the admin has been told
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_FAILURES_LOGGED = 5  # a cycle's failures named in its log line; the rest are counted


# -- what a cycle leaves behind for `status` ------------------------------------------------


@dataclass(frozen=True, slots=True)
class CycleSummary:
    """The counts of the last cycle, kept in the store's meta table for `status`."""

    at: str
    checked: int
    new_versions: int
    changes: int
    failed: int
    requests: int

    @classmethod
    def of(cls, report: CycleReport) -> CycleSummary:
        """The summary of a finished cycle."""
        return cls(
            at=report.started_at.isoformat(timespec="seconds"),
            checked=len(report.outcomes),
            new_versions=report.count("new_version"),
            changes=len(report.changes),
            failed=report.count("failed"),
            requests=report.requests,
        )

    def to_json(self) -> dict[str, Any]:
        """The `status --json` "last_cycle" object."""
        return {
            "at": self.at,
            "checked": self.checked,
            "new_versions": self.new_versions,
            "changes": self.changes,
            "failed": self.failed,
            "requests": self.requests,
        }

    @classmethod
    def read(cls, store: Store) -> CycleSummary | None:
        """The last cycle's summary, if a daemon ever ran a cycle on this database."""
        text = store.get_meta(META_LAST_CYCLE)
        return None if text is None else cls(**json.loads(text))

    def save(self, store: Store) -> None:
        """Remember this as the last cycle."""
        store.set_meta({META_LAST_CYCLE: json.dumps(self.to_json())})


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


def status_line(watched: int, failing: int, last: CycleSummary | None) -> str:
    """The line `systemctl status` shows: "watching 42 trials; last cycle 10:02, 3 changes"."""
    if not watched:
        text = "watching no trials yet (add some with `trialwatch watch add`)"
    else:
        text = f"watching {_plural(watched, 'trial')}"
    if last is not None:
        at = datetime.fromisoformat(last.at).astimezone().strftime("%H:%M")
        text += f"; last cycle {at}, {_plural(last.changes, 'change')}"
    elif watched:
        text += "; first cycle starting"
    if failing:
        text += f"; {failing} failing"
    return text


def failing_trials(trials: Sequence[TrialRow], failing_after: int) -> list[TrialRow]:
    """Trials whose last `failing_after` checks all failed."""
    return [t for t in trials if t.consecutive_failures >= failing_after]


# -- the pid file ---------------------------------------------------------------------------

DaemonState = Literal["running", "stopped", "crashed"]


@dataclass(frozen=True, slots=True)
class DaemonProcess:
    """Whether a daemon holds the pid file: `crashed` means a file with no daemon behind it."""

    state: DaemonState
    pid: int | None


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


class PidFile:
    """`<state dir>/trialwatch.pid`, private, locked for as long as the daemon runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock and write our pid, or say which daemon already holds it."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise WatcherError(
                f"another trialwatch daemon (pid {pid}) is already running with the state "
                f"directory {self.path.parent}; stop it first (two would poll twice)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd

    def release(self) -> None:
        """Remove the file, then let go of the lock (another daemon may start after this)."""
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None


def daemon_process(path: Path) -> DaemonProcess:
    """Whether a daemon holds the pid file at `path`, and its pid."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return DaemonProcess("stopped", None)
    except OSError as exc:
        raise WatcherError(
            f"{path}: cannot read the daemon's pid file ({exc.strerror}); run this as the "
            "daemon's user"
        ) from None
    try:
        pid = _read_pid(fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                raise
            return DaemonProcess("running", pid)
        return DaemonProcess("crashed", pid)
    finally:
        os.close(fd)


# -- `trialwatch status` --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    """The outbox as `status` shows it: what waits, what failed for good (and why), last send."""

    pending: int
    sent: int
    failed: int
    last_delivery: str | None
    failures: tuple[tuple[str, str | None], ...]  # (subject, the server's answer)

    @classmethod
    def read(cls, store: Store) -> OutboxStatus:
        """The figures of the outbox in `store`."""
        summary = store.outbox_summary()
        return cls(
            pending=summary["pending"],
            sent=summary["sent"],
            failed=summary["failed"],
            last_delivery=summary["last_delivery"],
            failures=tuple((f["subject"], f["error"]) for f in summary["failures"]),
        )

    def to_json(self) -> dict[str, Any]:
        """The `status --json` "outbox" object."""
        return {
            "pending": self.pending,
            "sent": self.sent,
            "failed": self.failed,
            "last_delivery": self.last_delivery,
            "failures": [{"subject": s, "error": e} for s, e in self.failures],
        }


@dataclass(frozen=True, slots=True)
class DaemonStatus:
    """Everything `trialwatch status` reports, read without disturbing a running daemon."""

    process: DaemonProcess
    last_cycle: CycleSummary | None
    next_check_at: datetime | None  # None: nothing watched, or no daemon to do it
    watched: int
    failing: tuple[TrialRow, ...]
    outbox: OutboxStatus | None  # None: no database yet
    database: Path
    database_bytes: int | None  # None: no database yet

    def to_json(self) -> dict[str, Any]:
        """The `status --json` contract."""
        return {
            "daemon": {
                "state": self.process.state,
                "running": self.process.state == "running",
                "pid": self.process.pid,
            },
            "last_cycle": None if self.last_cycle is None else self.last_cycle.to_json(),
            "next_check_at": (
                None if self.next_check_at is None else self.next_check_at.isoformat("T", "seconds")
            ),
            "trials": {
                "watched": self.watched,
                "failing": [
                    {
                        "nct_id": t.nct_id,
                        "consecutive_failures": t.consecutive_failures,
                        "last_error": t.last_error,
                        "last_success_at": t.last_success_at,
                    }
                    for t in self.failing
                ],
            },
            "outbox": None if self.outbox is None else self.outbox.to_json(),
            "database": {"path": str(self.database), "bytes": self.database_bytes},
        }


def _database_bytes(path: Path) -> int | None:
    """The database's size on disk, its write-ahead log included."""
    sizes = [p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists()]
    return sum(sizes) if path.exists() else None


def read_status(settings: Settings, now: datetime) -> DaemonStatus:
    """The daemon's state and the database's, as `trialwatch status` shows them."""
    process = daemon_process(settings.state_dir / PID_FILE)
    database = settings.storage.database
    size = _database_bytes(database)
    if size is None:  # do not create an empty database just to say it is empty
        return DaemonStatus(process, None, None, 0, (), None, database, None)
    with open_store(settings) as store:
        trials = store.trials()
        last = CycleSummary.read(store)
        outbox = OutboxStatus.read(store)
    upcoming = earliest_check(trials, settings.schedule.interval, now)
    return DaemonStatus(
        process=process,
        last_cycle=last,
        next_check_at=upcoming if process.state == "running" else None,
        watched=len(trials),
        failing=tuple(failing_trials(trials, settings.schedule.failing_after)),
        outbox=outbox,
        database=database,
        database_bytes=_database_bytes(database),
    )


# -- jobs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobSpec:
    """One recurring job: when it runs (rebuilt from the settings on SIGHUP) and what it does.

    `eager` jobs also run as soon as the daemon starts and whenever SIGHUP arrives.
    """

    id: str
    trigger: Callable[[Settings], Any]  # an APScheduler trigger
    run: Callable[[Daemon], None]
    misfire_grace_s: int = 60
    eager: bool = False


def poll(daemon: Daemon) -> None:
    """Check the trials that are due; after a SIGHUP (even one during a cycle), check them all."""
    check_all = daemon.take_check_all()
    while True:
        status = poll_once(daemon, check_all=check_all)
        # A SIGHUP during the cycle could not start this job again (it was still running).
        check_all = daemon.take_check_all()
        if not check_all or daemon.should_stop():
            break
    # Last, so that whoever waits for it (systemd, a test) finds the job done, not closing up.
    daemon.notifier.status(status)


def poll_once(daemon: Daemon, *, check_all: bool) -> str:
    """One cycle: check and act on what it found; returns the status line for systemd."""
    settings = daemon.settings
    now = daemon.now()
    with daemon.open_store() as store:
        trials = store.trials()
        if check_all:
            due = [t.nct_id for t in trials]
        else:
            due = due_trials(trials, settings.schedule.interval, now)
        if due:
            with registry_client(settings) as registry:
                report = run_cycle(
                    store,
                    registry,
                    now,
                    full_check_every=settings.schedule.full_check_every,
                    nct_ids=due,
                    should_stop=daemon.should_stop,
                    planner=notice_planner(store, settings),
                )
            CycleSummary.of(report).save(store)
            _log_cycle(report, len(due), daemon.should_stop())
            for hook in AFTER_CYCLE:
                try:
                    hook(daemon, store, report)
                except WatcherError as exc:
                    log.error("after the cycle: %s", exc)
                except Exception:  # one failing step (a full disk for feeds) skips only itself
                    log.exception("after the cycle: %s failed unexpectedly", hook.__name__)
            trials = store.trials()
        else:
            log.debug("nothing due among %d trial(s)", len(trials))
        failing = failing_trials(trials, settings.schedule.failing_after)
        return status_line(len(trials), len(failing), CycleSummary.read(store))


def _log_cycle(report: CycleReport, due: int, stopped: bool) -> None:
    for outcome in report.outcomes:
        if outcome.result == "new_version" and outcome.changes:
            what = summarize_line(outcome.changes)
            log.info("%s: version %s: %s", outcome.nct_id, outcome.version, what)
    failed = [o for o in report.outcomes if o.result == "failed"]
    named = "; ".join(f"{o.nct_id}: {o.error}" for o in failed[:_FAILURES_LOGGED])
    more = f"; and {len(failed) - _FAILURES_LOGGED} more" if len(failed) > _FAILURES_LOGGED else ""
    log.log(
        logging.WARNING if failed else logging.INFO,
        "cycle: %d checked, %d new version(s), %d change(s), %d failed, %d request(s)%s%s",
        len(report.outcomes),
        report.count("new_version"),
        len(report.changes),
        len(failed),
        report.requests,
        f" ({named}{more})" if failed else "",
        f"; stopped early, {due - len(report.outcomes)} left for next time" if stopped else "",
    )


def check_health(daemon: Daemon, store: Store, report: CycleReport) -> None:
    """Tell the admin what started or stopped failing; the state and the alerts commit together."""
    settings = daemon.settings
    text = store.get_meta(META_HEALTH)
    try:
        previous = HealthState.from_json(text)
    except ValueError as exc:
        log.warning("health: %s; starting again from 'all healthy'", exc)
        previous = HealthState()
    checks = [
        TrialCheck(
            t.nct_id,
            t.consecutive_failures,
            t.last_error,
            not_found=t.last_error == TrialNotFound(t.nct_id).detail,
        )
        for t in store.trials()
    ]
    result = assess(previous, checks, settings.schedule.failing_after, report.started_at)
    admin = settings.mail.admin
    messages = (
        [alert_email(a, sender=settings.mail.sender, admin=admin) for a in result.alerts]
        if admin
        else []
    )
    state = result.state.to_json()
    if state != text or messages:
        with store.atomic():
            store.enqueue(messages, daemon.now())
            store.set_meta({META_HEALTH: state})
    told = "emailed to the admin" if admin else "not emailed: [mail] admin is not set"
    for alert in result.alerts:
        log.warning("health: %s (%s)", alert.describe(), told)


def write_changed_feeds(daemon: Daemon, store: Store, report: CycleReport) -> None:
    """Rewrite the feeds of the trials that changed (and create those of new watches)."""
    changed = report.feeds_to_write
    if changed:
        written = write_feeds(store, daemon.settings, daemon.now(), changed)
        log.debug("feeds: %d file(s) rewritten", len(written))


def deliver_soon(daemon: Daemon, store: Store, report: CycleReport) -> None:
    """Send what the cycle queued now, not at the next minute's delivery run."""
    daemon.run_soon("deliver")


def deliver(daemon: Daemon) -> None:
    """Send the messages that are due from the outbox (retries included)."""
    with daemon.open_store() as store:
        report = deliver_due(store, daemon.settings, daemon.now(), daemon.env)
    if report.sent or report.deferred or report.failed:
        log.log(
            logging.WARNING if report.deferred or report.failed else logging.INFO,
            "delivery: %d sent, %d deferred, %d failed%s",
            report.sent,
            report.deferred,
            report.failed,
            "".join(f"; {error}" for error in report.errors[:_FAILURES_LOGGED]),
        )


def digests(daemon: Daemon) -> None:
    """Queue the daily/weekly digests whose hour has come (`watcher.service.digests` keeps the
    last run in the store, so a daemon that was down at the hour sends them when it is back)."""
    with daemon.open_store() as store:
        run = queue_digests(store, daemon.settings, daemon.now())
    if run.total:
        log.info("digests: %d queued", run.total)
        daemon.run_soon("deliver")


def _tick(settings: Settings) -> IntervalTrigger:
    return IntervalTrigger(seconds=int(TICK.total_seconds()), jitter=TICK_JITTER_S)


def _pet_watchdog(daemon: Daemon) -> None:
    """Sent from a scheduled job, so it stops when the scheduler stops dispatching."""
    daemon.notifier.watchdog()


JOBS: tuple[JobSpec, ...] = (
    JobSpec("poll", _tick, poll, eager=True),
    JobSpec("deliver", lambda s: IntervalTrigger(minutes=1, jitter=5), deliver, eager=True),
    JobSpec("digests", lambda s: IntervalTrigger(minutes=5, jitter=30), digests, eager=True),
)

# Run after every poll cycle, in order, in the poll job's thread, with its store and report.
AFTER_CYCLE: tuple[Callable[[Daemon, Store, CycleReport], None], ...] = (
    check_health,
    write_changed_feeds,
    deliver_soon,
)


# -- the daemon -----------------------------------------------------------------------------


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
        self._watchdog = watchdog_period(self.env, os.getpid())
        self._stop = threading.Event()
        self._check_all = threading.Event()
        self._signals: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._stop_signal_seen = False
        self._busy = _Busy()
        self._stopping_sent = False
        self._ready_status = ""
        self.scheduler = BlockingScheduler()

    # -- what jobs use ----------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The settings in effect (SIGHUP may replace them between job runs)."""
        return self._settings

    def open_store(self) -> Store:
        """A connection of the calling job's own."""
        return open_store(self._settings)

    def now(self) -> datetime:
        """The daemon's clock."""
        return datetime.now(UTC)

    def should_stop(self) -> bool:
        """True once a stop was asked for: jobs end after the item in hand."""
        return self._stop.is_set()

    def take_check_all(self) -> bool:
        """True once after SIGHUP: the next poll checks every trial, due or not."""
        asked = self._check_all.is_set()
        self._check_all.clear()
        return asked

    def run_soon(self, job_id: str) -> None:
        """Run a job now rather than at its next time (a no-op for a job not scheduled)."""
        with suppress(JobLookupError, SchedulerNotRunningError):
            self.scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))

    # -- lifecycle --------------------------------------------------------------------------

    def run(self) -> int:
        """Run until stopped; the exit code: 0 after a stop signal, 1 after an unexpected error.

        A `WatcherError` before the scheduler starts (another daemon running, an unusable
        database) is raised for the CLI to print.
        """
        pid_file = PidFile(self._settings.state_dir / PID_FILE)
        pid_file.acquire()
        try:
            with self.open_store() as store:  # migrate, and fail now rather than in a job
                trials = store.trials()
                failing = failing_trials(trials, self._settings.schedule.failing_after)
                self._ready_status = status_line(
                    len(trials), len(failing), CycleSummary.read(store)
                )
            log.info(
                "trialwatch %s: watching %d trial(s), every %s; database %s",
                __version__,
                len(trials),
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
                options["next_run_time"] = datetime.now(UTC)
            self.scheduler.add_job(
                self._runner(spec),
                trigger=spec.trigger(self._settings),
                id=spec.id,
                name=spec.id,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=spec.misfire_grace_s,
                **options,
            )
        self.scheduler.add_listener(self._started, EVENT_SCHEDULER_STARTED)
        self.scheduler.add_listener(self._job_done, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        for signum in (*STOP_SIGNALS, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        try:
            self.scheduler.start()  # returns once the control thread shuts it down
        except Exception:
            log.exception("unexpected error; stopping")
            self._stop.set()
            self._shutdown_scheduler()
            return 1
        return 0

    def _job_done(self, event: JobExecutionEvent) -> None:
        """A SIGHUP that came while the poll job was finishing found it still running (so its
        "run now" was skipped as an overlap) and left its request pending: honour it now that
        the job is done. APScheduler counts the run as finished before it calls this."""
        if event.job_id == "poll" and self._check_all.is_set() and not self.should_stop():
            self.run_soon("poll")

    def _all_jobs(self) -> tuple[JobSpec, ...]:
        if self._watchdog is None:
            return self.jobs
        period = self._watchdog.total_seconds()
        watchdog = JobSpec(
            "watchdog",
            lambda s: IntervalTrigger(seconds=period),
            _pet_watchdog,
            misfire_grace_s=max(1, int(period)),
            eager=True,
        )
        return (*self.jobs, watchdog)

    def _runner(self, spec: JobSpec) -> Callable[[], None]:
        def run_job() -> None:
            if self._stop.is_set():
                return
            with self._busy.running():
                try:
                    spec.run(self)
                except WatcherError as exc:
                    log.error("%s: %s", spec.id, exc)
                except Exception:
                    log.exception("%s failed unexpectedly; it runs again at its next time", spec.id)

        return run_job

    def _started(self, event: object) -> None:
        """The scheduler runs: take signals from now on, and tell systemd we are ready."""
        threading.Thread(target=self._control, name="signals", daemon=True).start()
        self.notifier.ready(self._ready_status)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        """Only record the signal (the control thread acts); a second stop signal exits now."""
        if signum in STOP_SIGNALS:
            if self._stop_signal_seen:
                os._exit(128 + signum)
            self._stop_signal_seen = True
        self._signals.put(signum)

    def _control(self) -> None:
        """Act on signals outside the signal handler, where taking locks is safe."""
        while True:
            signum = self._signals.get()
            if signum == signal.SIGHUP:
                self.reload()
                continue
            name = signal.Signals(signum).name
            log.info("%s: finishing the trial in hand, then stopping (again: stop at once)", name)
            self._stop.set()
            self._send_stopping()
            self._shutdown_scheduler()
            return

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
            new = load_settings(self.config_path)
        except ConfigError as exc:
            log.error("SIGHUP: settings not reloaded, the previous ones stay in effect: %s", exc)
        else:
            old = self._settings
            if new.storage.database != old.storage.database:
                log.warning(
                    "SIGHUP: [storage].database changed; %s stays in use until a restart",
                    old.storage.database,
                )
                new = replace(new, storage=old.storage)
            self._settings = new
            set_level(new.log.level)
            for spec in self.jobs:
                self.scheduler.reschedule_job(spec.id, trigger=spec.trigger(new))
            log.info("SIGHUP: settings reloaded from %s", new.source or "built-in defaults")
        self._check_all.set()
        for spec in self.jobs:
            if spec.eager:
                self.run_soon(spec.id)
