"""The daemon's jobs: what runs on its schedule, and what runs after each poll cycle.

Why it looks like this:
- `JOBS` is the daemon's timetable, one row per job: an id, how often it runs (with jitter, so
  a fleet of trialwatch installs does not knock at the same second), and the function. The
  daemon (`watcher.service.daemon`) runs every job with `max_instances=1` and `coalesce` (a
  late or slow run is never doubled up) and a `misfire_grace_time`.
- Polling is a fixed one-minute tick that asks `watcher.core.schedule` which trials are due;
  no setting changes the tick, so the timetable is built once and SIGHUP needs only to run the
  eager jobs now.
- A cycle is `watcher.service.check.check_now` (the one composition the command line and the
  demo run too: poll, then the feeds of the trials that changed), keeping the latest versions
  in memory between cycles. Then the steps in `AFTER_CYCLE` run in its thread: health alerts
  (the state and the admin's emails in one transaction), and a nudge to the delivery job so
  new messages leave now rather than at the next minute.
- Each job run opens its own `Store` (one SQLite connection per thread); WAL and the busy
  timeout let the CLI read and write beside it.
- Jobs see the daemon only through `JobContext`, so this module does not import the daemon.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from watcher.config import Settings
from watcher.core.cycle import CycleReport
from watcher.core.health import HealthState, TrialCheck, alert_email, assess
from watcher.core.schedule import TICK, TICK_JITTER_S, due_trials
from watcher.core.wording import summarize_line
from watcher.delivery.outbox import deliver_due
from watcher.errors import TrialNotFound, WatcherError
from watcher.service.check import check_now
from watcher.service.digests import queue_digests
from watcher.service.poll import RecentVersions
from watcher.service.sdnotify import Notifier
from watcher.service.searches import searches_due
from watcher.service.status import CycleSummary, status_line
from watcher.store.database import Store

log = logging.getLogger(__name__)

META_HEALTH = "health"  # HealthState.to_json(): what the admin has been told
# How long one run of the delivery job sends before it yields (and runs again at once when
# more is due): under the job's one-minute period, so a large queue never makes runs overlap.
DRAIN_FOR = timedelta(seconds=45)
_FAILURES_LOGGED = 5  # a cycle's failures named in its log line; the rest are counted


class JobContext(Protocol):
    """What a job may use of the running daemon (`watcher.service.daemon.Daemon`)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def env(self) -> Mapping[str, str]: ...

    @property
    def notifier(self) -> Notifier: ...

    def open_store(self) -> Store: ...

    def now(self) -> datetime: ...

    def should_stop(self) -> bool: ...

    def take_check_all(self) -> bool: ...

    @property
    def recent(self) -> RecentVersions: ...

    def run_soon(self, job_id: str) -> None: ...


@dataclass(frozen=True)
class JobSpec:
    """One recurring job: how often it runs and what it does.

    `eager` jobs also run as soon as the daemon starts and whenever SIGHUP arrives.
    """

    id: str
    every: timedelta
    run: Callable[[JobContext], None]
    jitter_s: int | None = None  # each run is moved by up to this many seconds
    misfire_grace_s: int = 60
    eager: bool = False


# -- polling: one cycle per tick, over the trials that are due ------------------------------


def poll(daemon: JobContext) -> None:
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


def poll_once(daemon: JobContext, *, check_all: bool) -> str:
    """One cycle: check and act on what it found; returns the status line for systemd."""
    settings = daemon.settings
    now = daemon.now()
    with daemon.open_store() as store:
        if check_all:
            due = [t.nct_id for t in store.trials()]
        elif due_trials(store.check_groups(), settings.schedule.interval, now):
            due = due_trials(store.trials(), settings.schedule.interval, now)
        else:
            due = []  # an idle tick reads one aggregate, not every trial
        if due or searches_due(store, settings.schedule.interval, now):
            result = check_now(
                store,
                settings,
                now,
                env=daemon.env,
                nct_ids=due,
                deliver=False,  # the delivery job sends it: `deliver_soon` below wakes it
                should_stop=daemon.should_stop,
                recent=daemon.recent,
            )
            report = result.report
            for problem in result.problems:
                log.error("after the cycle: %s", problem)
            CycleSummary.of(report).save(store)
            _log_cycle(report, len(due), daemon.should_stop())
            for hook in AFTER_CYCLE:
                try:
                    hook(daemon, store, report)
                except WatcherError as exc:
                    log.error("after the cycle: %s", exc)
                except Exception:  # one failing step (a full disk for feeds) skips only itself
                    log.exception("after the cycle: %s failed unexpectedly", hook.__name__)
        watched, failing = store.watch_summary(settings.schedule.failing_after)
        if not due:
            log.debug("nothing due among %d trial(s)", watched)
        return status_line(watched, len(failing), CycleSummary.read(store))


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
        report.checked,
        report.count("new_version"),
        len(report.changes),
        len(failed),
        report.requests,
        f" ({named}{more})" if failed else "",
        f"; stopped early, {due - report.checked} left for next time" if stopped else "",
    )


# -- after a cycle --------------------------------------------------------------------------


def check_health(daemon: JobContext, store: Store, report: CycleReport) -> None:
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


def deliver_soon(daemon: JobContext, store: Store, report: CycleReport) -> None:
    """Send what the cycle queued now, not at the next minute's delivery run."""
    daemon.run_soon("deliver")


# -- delivery, digests, the watchdog --------------------------------------------------------


def deliver(daemon: JobContext) -> None:
    """Send every message that is due from the outbox (retries included), for at most
    `DRAIN_FOR` at a time so the other jobs keep their turns."""
    with daemon.open_store() as store:
        report = deliver_due(
            store,
            daemon.settings,
            daemon.now(),
            daemon.env,
            deadline=datetime.now(UTC) + DRAIN_FOR,
        )
    if report.unfinished:  # more is due: go on at once, after the other jobs had their turn
        daemon.run_soon("deliver")
    if report.sent or report.deferred or report.failed:
        log.log(
            logging.WARNING if report.deferred or report.failed else logging.INFO,
            "delivery: %d sent, %d deferred, %d failed%s",
            report.sent,
            report.deferred,
            report.failed,
            "".join(f"; {error}" for error in report.errors[:_FAILURES_LOGGED]),
        )


def digests(daemon: JobContext) -> None:
    """Queue the daily/weekly digests whose hour has come (`watcher.service.digests` keeps the
    last run in the store, so a daemon that was down at the hour sends them when it is back)."""
    with daemon.open_store() as store:
        run = queue_digests(store, daemon.settings, daemon.now())
    if run.total:
        log.info("digests: %d queued", run.total)
        daemon.run_soon("deliver")


def pet_watchdog(daemon: JobContext) -> None:
    """Sent from a scheduled job, so it stops when the scheduler stops dispatching."""
    daemon.notifier.watchdog()


def watchdog_job(period: timedelta) -> JobSpec:
    """The job that tells systemd's watchdog the daemon is alive, every `period`."""
    grace = max(1, int(period.total_seconds()))
    return JobSpec("watchdog", period, pet_watchdog, misfire_grace_s=grace, eager=True)


# -- the timetable --------------------------------------------------------------------------


JOBS: tuple[JobSpec, ...] = (
    JobSpec("poll", TICK, poll, jitter_s=TICK_JITTER_S, eager=True),
    JobSpec("deliver", timedelta(minutes=1), deliver, jitter_s=5, eager=True),
    JobSpec("digests", timedelta(minutes=5), digests, jitter_s=30, eager=True),
)

# Run after every poll cycle, in order, in the poll job's thread, with its store and report.
AFTER_CYCLE: tuple[Callable[[JobContext, Store, CycleReport], None], ...] = (
    check_health,
    deliver_soon,
)
