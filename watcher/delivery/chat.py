"""Chat messages through Apprise (`[[channels]]`): Slack, Teams, Matrix, ntfy, Telegram, email…

Apprise is the one library here that speaks to chat services; everything it needs is an Apprise
URL (`watcher.config.channels.channel_url`, its token read from a credentials file). It answers
a send with True or False and explains a False only in its log, so `notify` listens to that
log while it sends (`watcher.config.apprise_urls.apprise_log`, which also keeps it out of
trialwatch's own: it may quote the URL), keeps the last warning as the reason and masks the
URL's secrets in it (`scrub`).

Each message is its own outbox row, so a channel that fails is retried on its own backoff and
never holds up another channel or the email: a False is `DeliveryDeferred`, and the rest of that
channel's messages in the same drain wait for the next one without being tried (a dead server
would otherwise cost its timeout once per message).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from watcher.config import Channel, channel_url
from watcher.config.apprise_urls import apprise_log, scrub
from watcher.errors import ConfigError, DeliveryDeferred, DeliveryRejected


def notify(url: str, title: str, body: str) -> str | None:
    """Send one message to the Apprise `url`: None when Apprise says it went, else the reason in
    one line, the URL's secrets masked."""
    import apprise  # imported only when a channel sends: it loads every plugin it has

    with apprise_log() as said:
        try:
            sender = apprise.Apprise()
            if not sender.add(url):
                return "Apprise cannot use this URL; check it with `trialwatch check-config`"
            plain = apprise.NotifyFormat.TEXT  # our words are plain text, not Markdown
            if sender.notify(body=body, title=title, body_format=plain):
                return None
        except Exception as exc:  # a plugin's own bug must fail this message, not the drain
            said.append(f"{type(exc).__name__}: {exc}")
        return scrub(said[-1], url) if said else "no reason given"


class AppriseTransport:
    """Posts outbox rows of channel `apprise` (recipient: a channel's name) through Apprise."""

    def __init__(self, channels: Sequence[Channel], env: Mapping[str, str]) -> None:
        self._channels = {channel.name: channel for channel in channels}
        self._env = env
        self._failed: dict[str, str] = {}  # name -> why it failed, in this drain

    def send(self, key: str, recipient: str, body: bytes) -> None:
        """One chat message; a failure is retried later, a removed channel's message fails."""
        channel = self._channels.get(recipient)
        if channel is None:
            raise DeliveryRejected(f"channel {recipient} is no longer in [[channels]]")
        if recipient in self._failed:
            raise DeliveryDeferred(
                f"channel {recipient}: {self._failed[recipient]} (not tried again this drain)"
            )
        message = json.loads(body)
        try:
            url = channel_url(channel, self._env)
        except ConfigError as exc:
            error: str | None = str(exc)
        else:
            error = notify(url, message["title"], message["body"])
        if error is not None:
            self._failed[recipient] = error
            raise DeliveryDeferred(f"channel {recipient}: {error}")
