"""What the daemon leaves behind for `trialwatch status` and `systemctl status`, and reading it.

Why it looks like this: `status` runs in another process than the daemon, so everything it
shows is read from what the daemon leaves on disk: the pid file's lock (`watcher.service.pidfile`),
the last cycle's counts in the store's meta table, the outbox, and when the next trial falls
due (`watcher.core.schedule`). Reading never creates the database nor disturbs a running daemon.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from watcher.config import Settings
from watcher.core.addresses import redact_addresses
from watcher.core.cycle import CycleReport
from watcher.core.notify import addressee
from watcher.core.schedule import earliest_check
from watcher.service.channels import ChannelHealth, channel_health
from watcher.service.pidfile import PID_FILE, DaemonProcess, daemon_process
from watcher.service.wiring import open_store
from watcher.store.database import Store
from watcher.store.rows import TrialRow

META_LAST_CYCLE = "daemon.last_cycle"


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
            checked=report.checked,
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


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    """The outbox as `status` shows it: what waits, what failed for good (and why), last send."""

    pending: int
    sent: int
    failed: int
    last_delivery: str | None
    failures: tuple[tuple[str, str, str | None], ...]  # (whom, subject, the server's answer)

    @classmethod
    def read(cls, store: Store) -> OutboxStatus:
        """The figures of the outbox in `store`, without an address anywhere.

        A server's answer often quotes the recipient ("550 <pat@…>: no such user"), and rows
        failed before transports redacted them still hold it: `status` is read by whoever
        runs the machine, and subscribers' addresses are not theirs to see.
        """
        summary = store.outbox_summary()
        return cls(
            pending=summary["pending"],
            sent=summary["sent"],
            failed=summary["failed"],
            last_delivery=summary["last_delivery"],
            failures=tuple(
                (
                    addressee(f["key"]),
                    redact_addresses(f["subject"]),
                    f["error"] and redact_addresses(f["error"]),
                )
                for f in summary["failures"]
            ),
        )

    def to_json(self) -> dict[str, Any]:
        """The `status --json` "outbox" object."""
        return {
            "pending": self.pending,
            "sent": self.sent,
            "failed": self.failed,
            "last_delivery": self.last_delivery,
            "failures": [{"to": t, "subject": s, "error": e} for t, s, e in self.failures],
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
    channels: tuple[ChannelHealth, ...] = ()  # the chat channels, with their health

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
            "channels": [c.to_json() for c in self.channels],
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
    with open_store(settings) as store:  # aggregates: 100,000 trials are never loaded here
        watched, failing = store.watch_summary(settings.schedule.failing_after)
        groups = store.check_groups()
        last = CycleSummary.read(store)
        outbox = OutboxStatus.read(store)
        channels = channel_health(store, [c.name for c in settings.channels])
    upcoming = earliest_check(groups, settings.schedule.interval, now)
    return DaemonStatus(
        process=process,
        last_cycle=last,
        next_check_at=upcoming if process.state == "running" else None,
        watched=watched,
        failing=tuple(failing),
        outbox=outbox,
        database=database,
        database_bytes=_database_bytes(database),
        channels=channels,
    )
