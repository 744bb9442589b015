"""Daily and weekly digests: when they are due, and queueing them from the waiting changes.

A digest subscription's changes wait in `digest_items` (written with the version that caused
them). At `[schedule].digest_hour` (daily), or that hour on `digest_weekday` (weekly), each
subscriber's waiting changes become one message in the outbox, and the items are consumed in
the same transaction. Due-ness is kept as the time of the last run in the store's meta table
rather than as a timer, so a daemon that was down at the hour sends the digest when it comes
back instead of skipping a day, and one run per slot is all that happens however often it is
asked. A subscriber with nothing waiting gets nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from watcher.config import Settings
from watcher.core.notify import digest_email
from watcher.core.progress import Progress
from watcher.core.schedule import last_slot
from watcher.data import load_glossary
from watcher.delivery.templates import render
from watcher.service.wiring import letterhead
from watcher.store.database import Store

DELIVERIES = ("daily", "weekly")


def _meta_key(delivery: str) -> str:
    return f"digest.{delivery}.last_run"


def is_due(store: Store, settings: Settings, delivery: str, now: datetime) -> bool:
    """Has the slot for this kind of digest come since it last ran? (Never run: yes.)"""
    weekday = settings.schedule.digest_weekday if delivery == "weekly" else None
    slot = last_slot(now.astimezone(), settings.schedule.digest_hour, weekday)
    last = store.get_meta(_meta_key(delivery))
    return last is None or datetime.fromisoformat(last) < slot


@dataclass(frozen=True, slots=True)
class DigestRun:
    """What one run queued: messages per kind of digest (kinds not due are absent)."""

    queued: dict[str, int]

    @property
    def total(self) -> int:
        """Messages queued in all."""
        return sum(self.queued.values())


def queue_digests(
    store: Store,
    settings: Settings,
    now: datetime,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> DigestRun:
    """Queue every due digest (every digest with `force`), one message per subscriber;
    `progress` hears of each subscriber's digest built, per kind of digest."""
    head = letterhead(settings)
    glossary = load_glossary()
    titles = {t.nct_id: t.brief_title for t in store.trials()}
    queued: dict[str, int] = {}
    for delivery in DELIVERIES:
        if not force and not is_due(store, settings, delivery, now):
            continue
        queued[delivery] = 0
        pending = store.pending_digests(delivery)
        for done, (person, items) in enumerate(pending, 1):
            message = digest_email(
                person,
                items,
                delivery=delivery,
                titles=titles,
                glossary=glossary,
                letterhead=head,
                render=render,
                now=now,
            )
            store.save_digest(message, items, now)
            queued[delivery] += message is not None
            if progress is not None:
                progress(done, len(pending))
        store.set_meta({_meta_key(delivery): now.isoformat()})
    return DigestRun(queued)
