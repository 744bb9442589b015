"""Starting and ending subscriptions: the compositions behind `subscribe` and `watch remove`.

`follow_search` is `subscribe --search` (and a confirmed web request for a search): the
subscription and its welcome email, in one transaction.

`subscribe` makes sure of the trial before anything is written: a trial with no stored version
here is asked of the registry (one request each), so an unknown NCT ID is refused at the door
and the welcome email has the whole record to summarise. Then one transaction watches the
trials not yet watched, creates or updates the subscriptions (only the options given change)
and queues a welcome email for each new one. Last, the private feeds of the people whose
subscriptions changed are written (and the feeds of trials watched now), so the private feed
link in the welcome works from the first minute.

`stop_watching` refuses to leave subscribers without a word: a trial somebody follows is only
unwatched when forced, and then, in one transaction, each of them is told, their
subscriptions to it end and the watch stops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watcher.config import Settings
from watcher.core.canonical import stamp_of
from watcher.core.clean import clean_record, missing_parts
from watcher.core.notify import Welcomes, unwatched_notices
from watcher.core.places import Near
from watcher.core.record import Trial, parse_trial
from watcher.core.search_notice import search_welcome_email
from watcher.core.subscriptions import Subscriber, Subscription
from watcher.data import load_glossary
from watcher.delivery.feed_files import (
    NewPrivateFeeds,
    all_feed_path,
    private_feed_path,
    private_feed_url,
    trial_feed_path,
    write_feeds,
    write_private_feeds,
)
from watcher.delivery.templates import render
from watcher.errors import InputError, RegistryResponseInvalid, TrialNotFound, WatcherError
from watcher.service.wiring import letterhead, registry_client
from watcher.store.database import Store
from watcher.store.subscribers import Subscribed, SubscriptionOutcome, Wanted


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
    wanted = Wanted(address, tuple(nct_ids), audience, delivery, kinds, near)
    return subscribe_many(store, settings, [wanted], now)


def subscribe_many(
    store: Store, settings: Settings, requests: Sequence[Wanted], now: datetime
) -> SubscribeResult:
    """Every request of a subscribers file, in one transaction, as one `subscribe` each:
    trials watched when needed (those with no stored version asked of the registry in
    batches, before anything is written), a welcome email for each new subscription, and the
    feeds of the trials written once at the end. A trial the registry refuses refuses the
    whole file, naming each line that asks for it (`line N: …`).

    The private feeds of many new subscribers are written by a child process while their
    welcomes are built (`NewPrivateFeeds`), and removed again if the transaction fails."""
    nct_ids = list(dict.fromkeys(n for request in requests for n in request.nct_ids))
    trials = _Trials(store, _registered_all(store, settings, nct_ids, requests))
    welcome = Welcomes(
        trials,
        feed_url=lambda token: private_feed_url(settings, token),
        glossary=load_glossary(),
        letterhead=letterhead(settings),
        render=render,
        now=now,
    )
    aside: NewPrivateFeeds | None = None
    try:
        with store.atomic():
            added = store.add_watches(nct_ids, now)
            done = store.subscribe_many(requests, now)
            aside = NewPrivateFeeds.start(store, settings, now, _newcomers(done))
            store.queue_welcomes(done, welcome, now)
    except BaseException:
        if aside is not None:
            aside.discard()
        raise
    outcomes = [outcome for subscribed in done for outcome in subscribed.outcomes]
    problems = []
    try:
        _write_feeds(store, settings, now, nct_ids, done, aside=_finished(aside))
    except (WatcherError, OSError) as exc:
        problems.append(f"feeds not written: {exc}")
    return SubscribeResult(tuple(outcomes), tuple(added), tuple(problems))


def _finished(aside: NewPrivateFeeds | None) -> bool:
    """Whether the new subscribers' private feeds were written by the child process; when it
    failed (a full disk, a kill), they are written here with the others, and only an error of
    that second attempt is told."""
    if aside is None:
        return False
    try:
        aside.finish()
    except OSError:
        return False
    return True


def _newcomers(done: Sequence[Subscribed]) -> list[tuple[Subscriber, Subscription]]:
    """Every subscription of the subscribers created, each once: all of them are among the
    outcomes (as stored after every request)."""
    found = {
        (subscribed.subscriber.id, outcome.after.nct_id): (subscribed.subscriber, outcome.after)
        for subscribed in done
        if subscribed.created
        for outcome in subscribed.outcomes
    }
    return list(found.values())


def _write_feeds(
    store: Store,
    settings: Settings,
    now: datetime,
    nct_ids: Sequence[str],
    done: Sequence[Subscribed],
    *,
    aside: bool,
) -> None:
    """The feeds a subscription touches, and no others: the private feeds of the people whose
    subscriptions changed (or whose feed is not on disk), but for the new subscribers' when
    they were written `aside`, and the feeds not yet written of trials watched now. A trial's
    own feed and `all` do not depend on who follows it, so those already written are left
    alone (a subscribers file naming 100 trials used to rewrite every follower's private
    feed)."""
    people = [
        subscribed.subscriber.id
        for subscribed in done
        if not (aside and subscribed.created)
        and (
            any(o.before != o.after for o in subscribed.outcomes)
            or not private_feed_path(settings, subscribed.subscriber.feed_token).exists()
        )
    ]
    absent = [n for n in nct_ids if not trial_feed_path(settings, n).exists()]
    if absent or not all_feed_path(settings).exists():
        write_feeds(store, settings, now, absent)
    write_private_feeds(store, settings, now, people)


class _Trials:
    """Each trial as stored here, read when first needed, or as the registry has it now."""

    def __init__(self, store: Store, registered: dict[str, Trial]) -> None:
        self._store = store
        self._trials = dict(registered)

    def __call__(self, nct_id: str) -> Trial:
        if nct_id not in self._trials:
            row = self._store.trial(nct_id)
            assert row is not None and row.current_version is not None  # else registered
            record = self._store.record(nct_id, row.current_version)
            self._trials[nct_id] = parse_trial(clean_record(record))
        return self._trials[nct_id]


def _registered_all(
    store: Store, settings: Settings, nct_ids: Sequence[str], requests: Sequence[Wanted]
) -> dict[str, Trial]:
    """The trials with no version stored here, as the registry lists them now, fetched in
    batches; refused in one message naming every line that asks for one it refuses."""
    unknown = [n for n in nct_ids if (row := store.trial(n)) is None or row.current_version is None]
    if not unknown:
        return {}
    trials: dict[str, Trial] = {}
    refused_now: dict[str, str] = {}
    with registry_client(settings) as registry:
        for fetched in registry.fetch_studies(unknown):
            if fetched.record is None:
                if isinstance(fetched.error, TrialNotFound):
                    refused_now[fetched.nct_id] = (
                        f"{fetched.nct_id}: ClinicalTrials.gov has no such trial (404); "
                        "check the NCT ID"
                    )
                    continue
                raise fetched.error or RegistryResponseInvalid("no record", fetched.nct_id)
            try:
                trials[fetched.nct_id] = _checked(fetched.nct_id, fetched.record)
            except InputError as exc:
                refused_now[fetched.nct_id] = str(exc)
    if refused_now:
        if not any(request.where for request in requests):  # one `subscribe` command
            raise InputError("; ".join(refused_now.values()))
        raise refused(
            [
                f"{request.where}: {refused_now[n]}"
                for request in requests
                for n in request.nct_ids
                if n in refused_now
            ]
        )
    return trials


def refused(faults: Sequence[str]) -> InputError:
    """A subscribers file refused whole: one line per fault, then what became of the file."""
    count = f"{len(faults)} line{'s' if len(faults) != 1 else ''}"
    return InputError(
        f"nothing was subscribed: {count} refused; fix them and run again\n" + "\n".join(faults)
    )


def _checked(nct_id: str, record: dict[str, Any]) -> Trial:
    """The trial as the registry lists it, refused in one line when it lists it as another."""
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


def follow_search(
    store: Store, settings: Settings, address: str, name: str, now: datetime
) -> tuple[Subscriber, bool]:
    """`address` hears of the new matches of the saved search `name` (`subscribe --search`, a
    confirmed web request); a new subscription gets its welcome email in the same transaction.
    True when the subscription is new."""
    with store.atomic():
        person, added = store.subscribe_search(address, name, now)
        search = store.search(name)
        if added and search is not None:
            welcome = search_welcome_email(
                person, search, letterhead=letterhead(settings), render=render, now=now
            )
            store.enqueue([welcome], now)
    return person, added


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
    return _Trials(store, _registered_all(store, settings, [nct_id], []))(nct_id)
