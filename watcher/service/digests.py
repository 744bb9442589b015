"""Daily and weekly digests: when they are due, and queueing them from the waiting changes.

A digest subscription's changes wait in `digest_items` (written with the version that caused
them). At `[schedule].digest_hour` (daily), or that hour on `digest_weekday` (weekly), each
subscriber's waiting changes become one message in the outbox, and the items are consumed in
the same transaction. A coordinator's digest opens with where each of their trials stands
(`_Overviews`: status and recruiting sites of the newest stored version, the last change).
Due-ness is kept as the time of the last run in the store's meta table
rather than as a timer, so a daemon that was down at the hour sends the digest when it comes
back instead of skipping a day, and one run per slot is all that happens however often it is
asked. A subscriber with nothing waiting gets nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from watcher.config import Settings
from watcher.core.notify import TrialOverview, digest_email, trial_overview
from watcher.core.progress import Progress
from watcher.core.record import parse_trial
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


class _Overviews:
    """Where each followed trial stands, read from the store once per run however many
    subscribers follow it (a stored record is decoded and parsed for its sites)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.last_changes = store.last_changes()
        self.known: dict[str, TrialOverview] = {}

    def of(self, subscriber_id: int) -> list[TrialOverview]:
        """Every trial the subscriber follows, in NCT ID order."""
        followed = {sub.nct_id for _, sub in self.store.subscriptions(subscriber_id=subscriber_id)}
        return [self._one(nct_id) for nct_id in sorted(followed)]

    def _one(self, nct_id: str) -> TrialOverview:
        if nct_id not in self.known:
            row = self.store.trial(nct_id)
            version = row.current_version if row else None
            trial = parse_trial(self.store.record(nct_id, version)) if version else None
            title = row.brief_title if row else None
            self.known[nct_id] = trial_overview(nct_id, trial, title, self.last_changes.get(nct_id))
        return self.known[nct_id]


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
    overviews = _Overviews(store)
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
                followed=overviews.of(person.id),
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
