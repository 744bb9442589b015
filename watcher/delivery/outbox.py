"""Draining the outbox: every due message goes to its transport, and the result is recorded.

A message leaves the outbox in one of three ways: sent (marked with the time), rejected for good
(marked failed with the server's answer, shown by `trialwatch status`), or deferred (retried
with exponential backoff until it goes or gives up). Each outcome is its own transaction, right
after the transport answered, so a restart resumes with the messages still pending: nothing is
dropped, and a message that was recorded as sent is never sent again. (The one window left is
between an SMTP server's "250 accepted" and that commit; a crash exactly there resends the
message with the same Message-ID, which mail systems fold. The Maildir transport closes even
that window: it finds the message already delivered.)
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from watcher.config import Settings, smtp_password
from watcher.delivery.maildir import MaildirTransport
from watcher.delivery.smtp import SmtpTransport
from watcher.delivery.webhook import WebhookTransport
from watcher.errors import DeliveryDeferred, DeliveryRejected
from watcher.store.database import Store

FIRST_RETRY = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=6)
GIVE_UP_AFTER = 20  # attempts: about three days of retries at the longest wait


class Transport(Protocol):
    """Sends one stored message (`smtp`, `maildir`, `webhook`); raises `DeliveryDeferred` or
    `DeliveryRejected`."""

    def send(self, key: str, recipient: str, body: bytes) -> None: ...


@dataclass
class DeliveryReport:
    """What one drain did."""

    sent: int = 0
    deferred: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        """Messages this drain tried to send."""
        return self.sent + self.deferred + self.failed

    def to_json(self) -> dict[str, Any]:
        """The `deliver --json` contract (also under "delivery" in `check --json`)."""
        return {
            "sent": self.sent,
            "deferred": self.deferred,
            "failed": self.failed,
            "errors": self.errors,
        }


def retry_at(attempts: int, now: datetime) -> datetime:
    """When to try again after `attempts` failures: 1 min, 2, 4, … capped at 6 hours."""
    wait: timedelta = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_WAIT)
    return now + wait


def deliver_due(
    store: Store, settings: Settings, now: datetime, env: Mapping[str, str]
) -> DeliveryReport:
    """Send every message that is due, once each; returns counts for the caller to print."""
    report = DeliveryReport()
    due = store.due_messages(now)
    if not due:
        return report
    with ExitStack() as stack:
        transports: dict[str, Transport] = {
            "webhook": stack.enter_context(
                WebhookTransport({w.url: w.secret for w in settings.webhooks})
            ),
        }
        if settings.smtp.host:
            transports["email"] = stack.enter_context(
                SmtpTransport(
                    settings.smtp.host,
                    settings.smtp.port,
                    security=settings.smtp.security,
                    sender=settings.mail.sender,
                    username=settings.smtp.username,
                    password=smtp_password(settings, env) if settings.smtp.username else None,
                )
            )
        else:
            transports["email"] = MaildirTransport(settings.mail.maildir)
        unreachable: set[str] = set()  # channels whose server is down: wait for the next drain
        for row in due:
            if row.channel in unreachable:
                report.deferred += 1
                continue
            try:
                transports[row.channel].send(row.key, row.recipient, row.body)
            except DeliveryRejected as exc:
                store.mark_failed(row.id, str(exc))
                report.failed += 1
                report.errors.append(f"{row.subject}: {exc}")
            except DeliveryDeferred as exc:
                attempts = row.attempts + 1
                if attempts >= GIVE_UP_AFTER:
                    store.mark_failed(row.id, f"gave up after {attempts} attempts: {exc}")
                    report.failed += 1
                else:
                    store.mark_retry(row.id, str(exc), retry_at(attempts, now))
                    report.deferred += 1
                report.errors.append(f"{row.subject}: {exc}")
                if exc.server_down:
                    unreachable.add(row.channel)
            else:
                store.mark_sent(row.id, now)
                report.sent += 1
    return report
