"""`check_now()`: the one composition of a check, used by `trialwatch check`, the daemon and the
demo (docs/ARCHITECTURE.md, "the walk of one change").

A check is: poll the registry and store each new version with its changes and the messages
they cause (one transaction per version, `watcher.service.poll`); run the saved searches when
the data release is new (`watcher.service.searches`); then rewrite the feeds of
the trials that changed; then, when the caller wants it now, drain the outbox. Wiring it once
keeps a setting or a step from being honoured by one entry point and forgotten by another.

The steps after the poll are each their own fault boundary: a full disk for the feeds must not
keep the emails queued, and neither undoes what the poll stored. Their failures come back in
`CheckResult.problems` for the caller to print or log.

A new watch's feeds are written while the poll goes on (`FirstFeeds`, a page of first
versions at a time, in a thread of their own): a cold start's files are created while the
next pages are fetched and parsed, and only those not written then are left to `write_feeds`.

Feeds heal themselves: the store remembers the newest change whose feeds were written
(`META_FEEDS`), so the feeds a kill or a failed write left behind are rewritten by the next
check, whoever runs it, even when the registry has nothing new.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from watcher.config import Settings
from watcher.core.cycle import CycleReport
from watcher.core.progress import Progress
from watcher.delivery.feed_files import FirstFeeds, write_feeds
from watcher.delivery.outbox import DeliveryReport, deliver_due
from watcher.errors import WatcherError
from watcher.service.poll import RecentVersions, run_cycle
from watcher.service.searches import SearchOutcome, run_searches
from watcher.service.wiring import notice_gone, notice_mover, notice_planner, registry_client
from watcher.store.database import Store

META_FEEDS = "feeds_written_through"  # the newest change id whose feeds are written


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What a check did: the cycle, the delivery (None when not asked for), what went wrong."""

    report: CycleReport
    delivery: DeliveryReport | None
    problems: tuple[str, ...] = ()
    searches: tuple[SearchOutcome, ...] = ()  # the saved searches run (a new release only)


def check_now(
    store: Store,
    settings: Settings,
    now: datetime,
    *,
    env: Mapping[str, str],
    nct_ids: Sequence[str] | None = None,
    deliver: bool = True,
    should_stop: Callable[[], bool] = lambda: False,
    recent: RecentVersions | None = None,
    progress: Progress | None = None,
) -> CheckResult:
    """Check the watched trials (or just `nct_ids`) now, run the saved searches when the data
    release is new to them, write the feeds, and send what is due when `deliver` (the daemon
    leaves that to its delivery job); `progress` hears of each trial checked."""
    first_feeds = FirstFeeds(settings, now)
    with registry_client(settings) as registry:
        try:
            report = run_cycle(
                store,
                registry,
                now,
                full_check_every=settings.schedule.full_check_every,
                full_refresh=settings.schedule.full_refresh,
                nct_ids=nct_ids,
                should_stop=should_stop,
                planner=notice_planner(store, settings),
                mover=notice_mover(store, settings),
                gone=notice_gone(store, settings),
                recent=recent,
                progress=progress,
                firsts=first_feeds,
            )
        finally:
            written, _ = first_feeds.finish()  # an error: write_feeds tries again, says why
        # Saved searches ride on the cycle's `/version`: a release they have seen costs nothing.
        searches = (
            ()
            if should_stop()
            else run_searches(store, registry, settings, report.data_timestamp, now)
        )

    problems = [f"search {s.name} not run: {s.error}" for s in searches if s.error]
    newest, behind = store.changed_since(int(store.get_meta(META_FEEDS) or 0))
    stale = sorted({*report.feeds_to_write, *behind} - written)
    if stale:
        try:
            write_feeds(store, settings, now, stale)
        except (WatcherError, OSError) as exc:
            problems.append(f"feeds not written: {exc}")
        else:
            store.set_meta({META_FEEDS: str(newest)})
    delivery = None
    if deliver:
        try:
            delivery = deliver_due(store, settings, now, env)
        except (WatcherError, OSError) as exc:
            problems.append(f"outbox not sent: {exc}")
    return CheckResult(report, delivery, tuple(problems), searches)
