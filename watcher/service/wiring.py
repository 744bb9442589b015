"""Wiring: the edges (store, registry client) built from settings, in one place.

The CLI, the daemon and the demo all need the same objects made the same way; building them
here keeps a setting from being honoured by one entry point and forgotten by another.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from watcher.config import Channel, Settings
from watcher.core.change import Change
from watcher.core.message import Notices, Outgoing
from watcher.core.notify import Letterhead, gone_notices, moved_notices, plan_notices
from watcher.core.record import Trial
from watcher.data import load_glossary
from watcher.delivery.templates import render
from watcher.registry.client import RegistryClient
from watcher.registry.history import HistoryClient
from watcher.service.poll import Goner, Mover, Planner
from watcher.store.database import Store
from watcher.store.rows import TrialRow


def open_store(settings: Settings, *, create: bool = True) -> Store:
    """The database named by `[storage].database`, migrated as needed and created when missing
    unless `create` is False (a running daemon's jobs)."""
    return Store(settings.storage.database, create=create)


def registry_client(settings: Settings) -> RegistryClient:
    """A registry client honouring every `[registry]` setting."""
    reg = settings.registry
    return RegistryClient(
        reg.base_url,
        user_agent=reg.user_agent,
        timeout_s=reg.timeout_s,
        requests_per_minute=reg.requests_per_minute,
        max_retries=reg.max_retries,
        ids_per_request=reg.ids_per_request,
        records_per_request=reg.records_per_request,
    )


def history_client(settings: Settings, registry: RegistryClient) -> HistoryClient:
    """A client of the registry's history API (`[registry].history_url`) that shares the
    politeness limit of `registry`, the API v2 client: together they stay at
    `requests_per_minute`, whichever asks."""
    reg = settings.registry
    return HistoryClient(
        reg.history_url,
        user_agent=reg.user_agent,
        timeout_s=reg.timeout_s,
        requests_per_minute=reg.requests_per_minute,
        max_retries=reg.max_retries,
        bucket=registry.bucket,
    )


def letterhead(settings: Settings) -> Letterhead:
    """Who messages come from and where their unsubscribe links point."""
    return Letterhead(settings.mail.sender, settings.web.base_url)


def channels_following(store: Store, settings: Settings) -> Callable[[str], list[Channel]]:
    """Which `[[channels]]` hear of a trial: those naming neither trials nor searches, those
    naming it, and those naming a saved search that matched it (read once, here)."""
    names = {name for channel in settings.channels for name in channel.searches}
    matched: dict[str, set[str]] = {}
    for search in store.searches() if names else ():
        if search.name in names:
            matched[search.name] = set(store.search_matches(search.id))

    def following(nct_id: str) -> list[Channel]:
        return [
            channel
            for channel in settings.channels
            if (not channel.trials and not channel.searches)
            or nct_id in channel.trials
            or any(nct_id in matched.get(name, ()) for name in channel.searches)
        ]

    return following


def notice_planner(store: Store, settings: Settings) -> Planner:
    """The poll cycle's planner: this trial's subscriptions, the webhooks and the chat channels
    that follow it, from the store and the settings."""
    glossary = load_glossary()
    head = letterhead(settings)
    following = channels_following(store, settings)

    def plan(
        nct_id: str, version: int, trial: Trial, changes: Sequence[Change], now: datetime
    ) -> Notices:
        return plan_notices(
            nct_id,
            version,
            trial,
            changes,
            store.subscriptions(nct_id=nct_id),
            settings.webhooks,
            glossary=glossary,
            letterhead=head,
            render=render,
            now=now,
            channels=following(nct_id),
        )

    return plan


def notice_mover(store: Store, settings: Settings) -> Mover:
    """What the poll tells the subscribers of a trial the registry now lists under another ID."""
    glossary = load_glossary()
    head = letterhead(settings)

    def moved(old: str, trial: Trial, now: datetime) -> tuple[Outgoing, ...]:
        return moved_notices(
            old,
            trial,
            store.subscriptions(nct_id=old),
            glossary=glossary,
            letterhead=head,
            render=render,
            now=now,
        )

    return moved


def notice_gone(store: Store, settings: Settings) -> Goner:
    """What the poll tells the subscribers of a trial the registry answers 404 for: nothing
    until the trial has failed `[schedule].failing_after` checks in a row (when the admin hears
    it is removed, too: one 404 may be a registry's bad minute), then one plain email each."""
    head = letterhead(settings)

    def gone(trial: TrialRow, now: datetime) -> tuple[Outgoing, ...]:
        failures = trial.consecutive_failures + 1  # this one included
        if trial.current_version is None or failures < settings.schedule.failing_after:
            return ()
        return gone_notices(
            trial.nct_id,
            trial.brief_title or "",
            trial.current_version,
            store.subscriptions(nct_id=trial.nct_id),
            letterhead=head,
            render=render,
            now=now,
        )

    return gone
