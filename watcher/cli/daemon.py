"""`trialwatch run` and `trialwatch status`: the daemon and a look at it from outside."""

from __future__ import annotations

import sys
from datetime import datetime

import click

from watcher.cli.output import emit_json
from watcher.cli.support import App, json_option, now, pass_app, reports_errors
from watcher.service.daemon import Daemon
from watcher.service.logs import setup_logging
from watcher.service.status import DaemonStatus, read_status

_FAILURES_SHOWN = 10  # failed messages listed by the text output; --json lists every one


@click.command()
@pass_app
@reports_errors
def run(app: App) -> None:
    """Run the daemon: poll on schedule until SIGTERM; SIGHUP rereads the settings."""
    settings = app.checked_settings()  # a configuration error stops us here: exit 78
    setup_logging(settings.log.level)
    sys.exit(Daemon(settings, app.config_path).run())


@click.command()
@json_option
@pass_app
@reports_errors
def status(app: App, as_json: bool) -> None:
    """Show whether the daemon runs, its cycles, failing trials, the outbox, database size."""
    report = read_status(app.settings, now())
    if as_json:
        emit_json(report.to_json())
    else:
        click.echo(format_status(report))


def _when(moment: datetime | str) -> str:
    at = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return at.astimezone().strftime("%Y-%m-%d %H:%M")


def _size(count: int) -> str:
    size, unit = float(count), "bytes"
    for bigger in ("kB", "MB", "GB"):
        if size < 1000:
            break
        size, unit = size / 1000, bigger
    return f"{count} bytes" if unit == "bytes" else f"{size:.1f} {unit}"


def format_status(report: DaemonStatus) -> str:
    """The text `status` prints: one line per fact, failing trials indented below."""
    process = report.process
    if process.state == "running":
        daemon = f"running (pid {process.pid})"
    elif process.state == "crashed":
        daemon = f"not running (pid file of pid {process.pid} left behind: it did not stop cleanly)"
    else:
        daemon = "not running"
    lines = [f"daemon:      {daemon}"]
    last = report.last_cycle
    if last is None:
        lines.append("last cycle:  none yet")
    else:
        lines.append(
            f"last cycle:  {_when(last.at)}: {last.checked} checked, {last.new_versions} new "
            f"version(s), {last.changes} change(s), {last.failed} failed, "
            f"{last.requests} request(s)"
        )
    if report.next_check_at is not None:
        lines.append(f"next check:  {_when(report.next_check_at)}")
    lines.append(f"trials:      {report.watched} watched, {len(report.failing)} failing")
    for t in report.failing:
        since = f" since {_when(t.last_success_at)}" if t.last_success_at else ""
        lines.append(f"  {t.nct_id}  {t.consecutive_failures} failed checks{since}: {t.last_error}")
    if report.outbox is not None:
        box = report.outbox
        last_sent = _when(box.last_delivery) if box.last_delivery else "none yet"
        lines.append(f"outbox:      {box.pending} pending, {box.failed} failed")
        shown = box.failures[:_FAILURES_SHOWN]
        lines += [f"  {to}: {subject}: {error}" for to, subject, error in shown]
        if len(box.failures) > _FAILURES_SHOWN:
            lines.append(f"  and {len(box.failures) - _FAILURES_SHOWN} more (--json lists all)")
        lines.append(f"last sent:   {last_sent}")
    if report.channels:
        lines.append("channels:    " + ", ".join(f"{c.name} {c.state}" for c in report.channels))
        lines += [
            f"  {c.name}: {c.pending} waiting ({c.attempts} attempt{'s' * (c.attempts != 1)} "
            f"so far), {c.failed} failed; last error: {c.last_error or 'none kept'}"
            for c in report.channels
            if c.failing
        ]
    if report.database_bytes is None:
        lines.append(f"database:    {report.database} (not created yet)")
    else:
        lines.append(f"database:    {report.database} ({_size(report.database_bytes)})")
    return "\n".join(lines)
