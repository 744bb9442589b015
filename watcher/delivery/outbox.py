"""Draining the outbox: every due message goes to its transport, and the result is recorded.

A message leaves the outbox in one of three ways: sent (marked with the time), rejected for good
(marked failed with the server's answer, shown by `trialwatch status`), or deferred (retried
with exponential backoff until it goes or gives up). Each outcome is committed before the next
message goes, so a restart resumes with the messages still pending: nothing is dropped, and a
message that was recorded as sent is never sent again. It is committed in the transaction that
checks the next message's claim (`Store.hold`), which an SMTP session runs while the server
answers that message's MAIL FROM (`SmtpTransport.send`'s `ready`), rather than between the two
messages: a message costs one commit, and the server's turn hides it.

A drain claims `BATCH` rows at a time and goes on claiming until nothing is due (or its
deadline: the daemon's delivery job stops after `jobs.DRAIN_FOR` and runs again at once), over one
transport session for the whole drain.

Each message is sent at most once, however many drains run at once (the CLI's `deliver` or
`check` beside the daemon's delivery job):
- A drain first claims the due rows in one `BEGIN IMMEDIATE` transaction, under an owner id of
  its own and a lease of `LEASE`; another drain skips claimed rows until their lease ends.
- Before each message goes (before its recipient is named to an SMTP server) it checks the
  claim is still its own (`Store.hold`: a read; a lapsed one is renewed if nobody took it),
  and every half `LEASE` it renews all its claims in one transaction (`Store.renew`), so a
  lease outlasts any one send; a row that is no longer its own (cancelled by an unsubscribe
  meanwhile, or taken over after this drain's lease ran out) is skipped (an unsubscribe
  committed after that check finds the message already on its way). An outcome is recorded
  only on a row the drain still owns, and `cancelled` is final.
- A drain killed mid-way leaves its rows claimed. The owner id starts with the drain's
  process id, so the next drain on this machine frees the claims of a process that no longer
  exists at once (`_free_the_dead`); otherwise they wait for the lease to run out. Either way
  they are sent with the same Message-ID (derived from the outbox key).

The one window left: the server said "250 accepted" and the process died before its commit
(made as the next message's MAIL FROM goes out, or at once when no message follows: still at
most one message). The next drain sends that message again, with the same Message-ID, which
mail systems fold into one (the kill test in `tests/test_concurrency.py` counts these). The
Maildir transport closes even that window: it names the file after the outbox key and finds
the message already delivered.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from watcher.config import Settings, smtp_password
from watcher.delivery.chat import AppriseTransport
from watcher.delivery.maildir import MaildirTransport
from watcher.delivery.smtp import SmtpTransport
from watcher.delivery.webhook import WebhookTransport
from watcher.errors import DeliveryDeferred, DeliveryRejected
from watcher.store.database import Store
from watcher.store.outbox import Outcome
from watcher.store.rows import OutboxRow

FIRST_RETRY = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=6)
GIVE_UP_AFTER = 20  # attempts: about three days of retries at the longest wait
# How long a claim keeps other drains off a message. Renewed before each send, so it needs to
# outlast one send (the SMTP timeout is 30 s), not a whole drain; it is what a killed sender's
# messages wait before another drain sends them.
LEASE = timedelta(minutes=5)
# Messages claimed at a time: a drain claims batch after batch until nothing is due, so this
# only bounds what one claim holds (and what a killed drain leaves waiting for its lease).
BATCH = 500


class Transport(Protocol):
    """Sends one stored message (`maildir`, `webhook`, `apprise`); raises `DeliveryDeferred`
    or `DeliveryRejected`."""

    def send(self, key: str, recipient: str, body: bytes) -> None: ...


class Sender(Protocol):
    """A transport as the drain uses it: `ready` (the drain's bookkeeping) is called before the
    message goes, and when it says False the message does not go and `send` returns False.
    SMTP calls it while the server answers MAIL FROM (`SmtpTransport`), the others first."""

    def send(self, key: str, recipient: str, body: bytes, ready: Callable[[], bool]) -> bool: ...


@dataclass(frozen=True)
class _ReadyFirst:
    """A transport with no server's turn to do the bookkeeping in: it is done first."""

    transport: Transport

    def send(self, key: str, recipient: str, body: bytes, ready: Callable[[], bool]) -> bool:
        if not ready():
            return False
        self.transport.send(key, recipient, body)
        return True


class _Outcomes:
    """The drain's bookkeeping: the last message's outcome, recorded with the next message's
    claim check (`ready_to_send`), or alone (`settle`) before anything else touches the outbox
    and when the drain ends."""

    def __init__(self, store: Store, owner: str) -> None:
        self.store, self.owner = store, owner
        self.pending: Outcome | None = None

    def ready_to_send(self, outbox_id: int, at: datetime) -> Callable[[], bool]:
        """`Sender.send`'s `ready` for message `outbox_id`, its claim checked at `at`."""

        def ready() -> bool:
            settling, self.pending = self.pending, None
            return self.store.hold(
                outbox_id, self.owner, at=at, until=at + LEASE, settling=settling
            )

        return ready

    def settle(self) -> None:
        """Record the outcome still waiting, if any, in a transaction of its own."""
        if self.pending is not None:
            settling, self.pending = self.pending, None
            self.store.settle(settling, self.owner)


@dataclass
class DeliveryReport:
    """What one drain did."""

    sent: int = 0
    deferred: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    unfinished: bool = False  # the deadline came with messages still due

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
    store: Store,
    settings: Settings,
    now: datetime,
    env: Mapping[str, str],
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    *,
    deadline: datetime | None = None,
) -> DeliveryReport:
    """Send every message that is due, once each, batch after batch until none is left or
    `deadline` (on `clock`) has passed; returns counts for the caller to print.

    `now` decides what is due and stamps the outcomes; leases are measured on `clock`, the
    machine's time that every drain on it shares. One transport of each kind serves the whole
    drain (one SMTP session, opened again if the server drops it); a channel whose server is
    down is left for the next drain.
    """
    report = DeliveryReport()
    owner = f"{os.getpid()}-{secrets.token_hex(6)}"
    _free_the_dead(store, clock())
    with ExitStack() as stack:
        stack.enter_context(store.sending())
        stack.callback(store.release, owner)
        senders = _senders(stack, settings, env)
        outcomes = _Outcomes(store, owner)
        stack.callback(outcomes.settle)  # before the claims are released: they are its rows
        unreachable: set[str] = set()  # channels whose server is down: wait for the next drain
        while deadline is None or clock() < deadline:
            started = clock()
            due = store.claim_due(
                now,
                owner,
                at=started,
                until=started + LEASE,
                limit=BATCH,
                skip_channels=sorted(unreachable),
            )
            if not due:
                break
            renewed = started
            for row in due:
                at = clock()
                if deadline is not None and at >= deadline:
                    break  # the untried rows are released below, for the next drain
                if row.channel in unreachable:
                    report.deferred += 1  # released below, untried, for the next drain
                    continue
                if at - renewed > LEASE / 2:  # the lease always outlasts one send
                    outcomes.settle()
                    renewed = at
                    store.renew(owner, renewed + LEASE)
                ready = outcomes.ready_to_send(row.id, at)
                outcome = _attempt(senders[row.channel], row, ready, now, report, unreachable)
                outcomes.settle()  # the last one, when the session failed before `ready`
                outcomes.pending = outcome
            outcomes.settle()
        report.unfinished = deadline is not None and clock() >= deadline
    return report


def _senders(stack: ExitStack, settings: Settings, env: Mapping[str, str]) -> dict[str, Sender]:
    """One transport per channel, closed when the drain ends."""
    senders: dict[str, Sender] = {
        "webhook": _ReadyFirst(
            stack.enter_context(WebhookTransport({w.url: w.secret for w in settings.webhooks}))
        ),
        "apprise": _ReadyFirst(AppriseTransport(settings.channels, env)),
    }
    if settings.smtp.host:
        senders["email"] = stack.enter_context(
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
        senders["email"] = _ReadyFirst(MaildirTransport(settings.mail.maildir))
    return senders


def _attempt(
    sender: Sender,
    row: OutboxRow,
    ready: Callable[[], bool],
    now: datetime,
    report: DeliveryReport,
    unreachable: set[str],
) -> Outcome | None:
    """Send one claimed message; what became of it, for the drain to record (None: it did
    not go, being no longer this drain's to send)."""
    try:
        if not sender.send(row.key, row.recipient, row.body, ready):
            return None
    except DeliveryRejected as exc:
        report.failed += 1
        report.errors.append(f"{row.subject}: {exc}")
        return Outcome.failed(row.id, str(exc))
    except DeliveryDeferred as exc:
        report.errors.append(f"{row.subject}: {exc}")
        if exc.server_down:
            unreachable.add(row.channel)
        attempts = row.attempts + 1
        if attempts >= GIVE_UP_AFTER:
            report.failed += 1
            return Outcome.failed(row.id, f"gave up after {attempts} attempts: {exc}")
        report.deferred += 1
        return Outcome.retry(row.id, str(exc), retry_at(attempts, now))
    report.sent += 1
    return Outcome.sent(row.id, now)


def _free_the_dead(store: Store, now: datetime) -> None:
    """Release the claims of drains whose process is gone (killed, crashed): the database is
    local, so a process id in the owner is one of this machine's. A process id reused since,
    or one we may not signal, counts as alive and its claims wait for their lease."""
    for owner in store.claimants(now):
        pid, _, _ = owner.partition("-")
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            store.release(owner)
        except OSError:
            continue
