"""Starting and ending subscriptions: the compositions behind `subscribe` and `watch remove`.

`subscribe` makes sure of the trial before anything is written: a trial with no stored version
here is asked of the registry (one request each), so an unknown NCT ID is refused at the door
and the welcome email has the whole record to summarise. Then one transaction watches the
trials not yet watched, creates or updates the subscriptions (only the options given change)
and queues a welcome email for each new one. Last, the feeds of those trials are written, so
the private feed link in the welcome works from the first minute.

`stop_watching` refuses to leave subscribers without a word: a trial somebody follows is only
unwatched when forced, and then, in one transaction, each of them is told, their
subscriptions to it end and the watch stops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from watcher.config import Settings
from watcher.core.canonical import stamp_of
from watcher.core.clean import clean_record, missing_parts
from watcher.core.message import Outgoing
from watcher.core.notify import unwatched_notices, welcome_email
from watcher.core.places import Near
from watcher.core.record import Trial, parse_trial
from watcher.core.subscriptions import Subscriber, Subscription
from watcher.data import load_glossary
from watcher.delivery.feed_files import private_feed_url, write_feeds
from watcher.delivery.templates import render
from watcher.errors import InputError, RegistryResponseInvalid, TrialNotFound, WatcherError
from watcher.registry.client import RegistryClient
from watcher.service.wiring import letterhead, registry_client
from watcher.store.database import Store
from watcher.store.subscribers import SubscriptionOutcome


@dataclass(frozen=True, slots=True)
class SubscribeResult:
    """Per trial, the subscription before and after; the trials watched because of it; and
    what went wrong after the subscription was stored (the feeds)."""

    outcomes: tuple[SubscriptionOutcome, ...]
    watched_now: tuple[str, ...]
    problems: tuple[str, ...] = ()


def subscribe(
    store: Store,
    settings: Settings,
    address: str,
    nct_ids: Sequence[str],
    now: datetime,
    *,
    audience: str | None = None,
    delivery: str | None = None,
    kinds: frozenset[str] | None = None,
    near: Near | None = None,
) -> SubscribeResult:
    """Subscribe `address` to these trials (watching them when needed); options left None
    keep what an existing subscription has, or take the default."""
    trials = _trials(store, settings, nct_ids)
    glossary = load_glossary()
    head = letterhead(settings)

    def welcome(person: Subscriber, subscription: Subscription) -> Outgoing:
        return welcome_email(
            person,
            subscription,
            trials[subscription.nct_id],
            feed_url=private_feed_url(settings, person.feed_token),
            glossary=glossary,
            letterhead=head,
            render=render,
            now=now,
        )

    with store.atomic():
        added = store.add_watches(nct_ids, now)
        done = store.subscribe(
            address,
            nct_ids,
            now,
            audience=audience,
            delivery=delivery,
            kinds=kinds,
            near=near,
            welcome=welcome,
        )
    problems = []
    try:
        write_feeds(store, settings, now, nct_ids)
    except (WatcherError, OSError) as exc:
        problems.append(f"feeds not written: {exc}")
    return SubscribeResult(done.outcomes, tuple(added), tuple(problems))


def _trials(store: Store, settings: Settings, nct_ids: Sequence[str]) -> dict[str, Trial]:
    """Each trial as stored here, or as the registry has it now when it has no version here."""
    trials: dict[str, Trial] = {}
    unknown = []
    for nct_id in nct_ids:
        row = store.trial(nct_id)
        if row is not None and row.current_version is not None:
            trials[nct_id] = parse_trial(clean_record(store.record(nct_id, row.current_version)))
        else:
            unknown.append(nct_id)
    if unknown:
        with registry_client(settings) as registry:
            for nct_id in unknown:
                trials[nct_id] = _registered(registry, nct_id)
    return trials


def _registered(registry: RegistryClient, nct_id: str) -> Trial:
    """The trial as the registry lists it, refused in one line when it lists no such trial."""
    try:
        record = registry.fetch_study(nct_id)
    except TrialNotFound:
        raise InputError(
            f"{nct_id}: ClinicalTrials.gov has no such trial (404); check the NCT ID"
        ) from None
    listed = stamp_of(record).nct_id
    if listed != nct_id:
        raise InputError(
            f"{nct_id}: ClinicalTrials.gov now lists this trial as {listed}; "
            f"subscribe to {listed} instead"
        )
    missing = missing_parts(record)
    if missing:
        raise RegistryResponseInvalid(
            f"incomplete record from the registry (no {', '.join(missing)}); try again later",
            nct_id,
        )
    return parse_trial(clean_record(record))


@dataclass(frozen=True, slots=True)
class Unwatched:
    """What `watch remove` did: the trials no longer watched, and per trial how many
    subscribers were told (and lost their subscription to it)."""

    removed: tuple[str, ...]
    told: dict[str, int]


def stop_watching(
    store: Store, settings: Settings, nct_ids: Sequence[str], now: datetime, *, force: bool
) -> Unwatched:
    """Stop watching these trials; refused (nothing changed) while anyone follows one of
    them, unless `force`: then each subscriber is told and their subscription ends."""
    head = letterhead(settings)
    with store.atomic():
        followed = {n: subs for n in nct_ids if (subs := store.subscriptions(nct_id=n))}
        if followed and not force:
            which = ", ".join(f"{n} ({_people(len(subs))})" for n, subs in followed.items())
            raise InputError(
                f"{which} still followed: nobody would tell them anything again; add --force "
                "to stop watching anyway (each subscriber gets an email saying so)"
            )
        messages = [
            message
            for nct_id, subs in followed.items()
            for message in unwatched_notices(
                nct_id,
                _title(store, nct_id),
                subs,
                letterhead=head,
                render=render,
                now=now,
            )
        ]
        store.enqueue(messages, now)
        store.end_subscriptions(list(followed))
        removed = store.remove_watches(nct_ids)
    return Unwatched(tuple(removed), {n: len(subs) for n, subs in followed.items()})


def _title(store: Store, nct_id: str) -> str:
    row = store.trial(nct_id)
    return (row.brief_title if row else None) or ""


def _people(count: int) -> str:
    return f"{count} subscriber{'s' if count != 1 else ''}"


def look_up(store: Store, settings: Settings, nct_id: str) -> Trial:
    """The trial as stored here, else as the registry lists it (one request); an unknown or
    moved NCT ID is one `InputError`, as `subscribe` refuses it (the web front's lookup)."""
    return _trials(store, settings, [nct_id])[nct_id]
