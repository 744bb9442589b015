"""Chat messages through Apprise (`[[channels]]`): Slack, Teams, Matrix, ntfy, Telegram, email…

Apprise is the one library here that speaks to chat services; everything it needs is an Apprise
URL (`watcher.config.channels.channel_url`, its token read from a credentials file). It answers
a send with True or False and explains a False only in its log, so `notify` listens to the
`apprise` logger while it sends, keeps the last warning as the reason, masks the URL's secrets
in it (`watcher.config.apprise_urls.scrub`), and keeps Apprise's own log lines out of
trialwatch's log (they may name more of the URL than the reason needs).

Each message is its own outbox row, so a channel that fails is retried on its own backoff and
never holds up another channel or the email: a False is `DeliveryDeferred`, and the rest of that
channel's messages in the same drain wait for the next one without being tried (a dead server
would otherwise cost its timeout once per message).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping, Sequence

from watcher.config import Channel, channel_url
from watcher.config.apprise_urls import scrub
from watcher.errors import ConfigError, DeliveryDeferred, DeliveryRejected

# One send at a time per process: the reason is read from a logger every thread shares.
_SENDING = threading.Lock()


class _Reasons(logging.Handler):
    """Keeps the warnings Apprise logs while one message is sent."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def notify(url: str, title: str, body: str) -> str | None:
    """Send one message to the Apprise `url`: None when Apprise says it went, else the reason in
    one line, the URL's secrets masked."""
    import apprise  # imported only when a channel sends: it loads every plugin it has

    logger = logging.getLogger("apprise")
    reasons = _Reasons()
    with _SENDING:
        propagate, level = logger.propagate, logger.level
        logger.propagate = False
        logger.setLevel(logging.WARNING)
        logger.addHandler(reasons)
        try:
            sender = apprise.Apprise()
            if not sender.add(url):
                return "Apprise cannot use this URL; check it with `trialwatch check-config`"
            plain = apprise.NotifyFormat.TEXT  # our words are plain text, not Markdown
            sent = bool(sender.notify(body=body, title=title, body_format=plain))
        except Exception as exc:  # a plugin's own bug must fail this message, not the drain
            reasons.lines.append(f"{type(exc).__name__}: {exc}")
            sent = False
        finally:
            logger.removeHandler(reasons)
            logger.propagate, logger.level = propagate, level
    if sent:
        return None
    reason = " ".join(reasons.lines[-1].split()) if reasons.lines else "no reason given"
    return scrub(reason, url)


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
