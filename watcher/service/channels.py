"""Chat channels from outside: `channel list` (what each hears, its URL masked, its health),
`channel test NAME` (a message now, not through the outbox) and their lines in `status`.

Health is read from the outbox, where each chat message is a row of its own (channel
`apprise`, recipient the channel's name): a channel is failing while a message to it waits
after a failed attempt, or failed for good. The URL is never shown whole: `channel list` prints
Apprise's privacy form, and the errors kept are already masked by the sender.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from watcher.config import Channel, Settings, channel_url
from watcher.config.apprise_urls import shown
from watcher.core.addresses import redact_addresses
from watcher.delivery.chat import notify
from watcher.errors import ConfigError, InputError
from watcher.service.wiring import open_store
from watcher.store.database import Store

TEST_TITLE = "trialwatch test message"


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    """How a channel's messages fare, read from the outbox."""

    name: str
    pending: int = 0
    failed: int = 0
    sent: int = 0
    attempts: int = 0  # the most attempts a message still waiting has had
    last_error: str | None = None
    last_sent: str | None = None

    @property
    def failing(self) -> bool:
        """A message failed for good, or one waits after a failed attempt."""
        return self.failed > 0 or (self.pending > 0 and self.attempts > 0)

    @property
    def state(self) -> str:
        """One word for `channel list` and `status`."""
        if self.failing:
            return "failing"
        return "ok" if self.sent else "no messages yet"

    def to_json(self) -> dict[str, Any]:
        """The `status --json` and `channel list --json` "health" object."""
        return {
            "name": self.name,
            "state": self.state,
            "pending": self.pending,
            "failed": self.failed,
            "sent": self.sent,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "last_sent": self.last_sent,
        }


def channel_health(store: Store, names: Sequence[str]) -> tuple[ChannelHealth, ...]:
    """The health of the channels `names` (the configured ones) and of any other channel that
    still has messages in the outbox, in that order."""
    figures = store.channel_figures()
    ordered = [*names, *sorted(set(figures) - set(names))]
    health = []
    for name in ordered:
        found = dict(figures.get(name, {}))
        if found.get("last_error"):  # kept as "channel NAME: why", for the drain's report
            why = found["last_error"].removeprefix(f"channel {name}: ")
            found["last_error"] = redact_addresses(why)
        health.append(ChannelHealth(name, **found))
    return tuple(health)


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """One line of `channel list`."""

    channel: Channel
    url: str  # Apprise's privacy form, or why the URL cannot be read
    health: ChannelHealth

    def to_json(self) -> dict[str, Any]:
        """The `channel list --json` object of one channel."""
        c = self.channel
        return {
            "name": c.name,
            "url": self.url,
            "audience": c.audience,
            "kinds": list(c.kinds),
            "trials": list(c.trials),
            "searches": list(c.searches),
            "health": self.health.to_json(),
        }


def list_channels(settings: Settings, env: Mapping[str, str]) -> list[ChannelInfo]:
    """Every `[[channels]]` entry with its masked URL and its health (none sent yet when there
    is no database: listing does not create one)."""
    names = [c.name for c in settings.channels]
    if settings.storage.database.exists():
        with open_store(settings) as store:
            health = {h.name: h for h in channel_health(store, names)}
    else:
        health = {name: ChannelHealth(name) for name in names}
    infos = []
    for channel in settings.channels:
        try:
            url = shown(channel_url(channel, env))
        except ConfigError as exc:
            url = f"(not readable: {exc})"
        infos.append(ChannelInfo(channel, url, health[channel.name]))
    return infos


def send_test(settings: Settings, name: str, env: Mapping[str, str]) -> str | None:
    """Send a test message to channel `name` now, not through the outbox: None when Apprise
    says it went, else the reason in one line (its secrets masked)."""
    channel = next((c for c in settings.channels if c.name == name), None)
    if channel is None:
        known = ", ".join(c.name for c in settings.channels) or "none in the settings file"
        raise InputError(f"no channel {name!r} in [[channels]]; the channels are: {known}")
    body = (
        f"This is a test of the trialwatch channel {name}. Changes to the trials it follows "
        "will be posted here."
    )
    return notify(channel_url(channel, env), TEST_TITLE, body)
