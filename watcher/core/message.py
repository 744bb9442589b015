"""Outgoing messages as data, and email built with the stdlib `email` package (pure).

A message is decided and rendered when the change is found, and stored whole in the outbox in
the same transaction, so delivery later is only transport: what was decided is what is sent,
after any number of restarts. Its `key` is unique in the outbox (a message is queued once) and
becomes the Message-ID, so even a retry after an ambiguous SMTP failure carries the same ID and
mail systems can fold the copies.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import quote

CHANNELS = ("email", "webhook")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to send, as the outbox stores it."""

    key: str  # idempotency key: unique in the outbox
    channel: str  # "email" | "webhook"
    recipient: str  # an address, or a webhook URL
    subject: str
    body: bytes  # the whole RFC 5322 message, or the webhook's JSON
    subscriber_id: int | None = None


@dataclass(frozen=True, slots=True)
class Notices:
    """What one new version causes: messages to send now, changes to keep for digests.

    `version` is the version number the messages were written for (their keys and links name
    it); the store checks it is the version it appends, in the same transaction.
    `digests` pairs a subscription with the positions (in the version's change list) of the
    changes it will hear about in its next digest.
    """

    version: int
    messages: tuple[Outgoing, ...] = ()
    digests: tuple[tuple[int, tuple[int, ...]], ...] = ()


def message_id(key: str, sender: str) -> str:
    """A Message-ID derived from the outbox key: the same message always has the same ID."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "trialwatch.invalid"
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}.trialwatch@{domain}>"


def unsubscribe_url(token: str, web_base_url: str | None, sender: str) -> str:
    """The one-click unsubscribe target: an https URL when a web base is set, else mailto:."""
    if web_base_url:
        return f"{web_base_url}/unsubscribe/{quote(token, safe='')}"
    address = parseaddr(sender)[1]
    return f"mailto:{address}?subject={quote('unsubscribe ' + token)}"


def build_email(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    key: str,
    date: datetime,
    unsubscribe: str | None = None,
) -> EmailMessage:
    """A multipart/alternative message (plain text first, HTML second) with list headers.

    `unsubscribe` (from `unsubscribe_url`) adds List-Unsubscribe and the RFC 8058 one-click
    header; admin alerts have none.
    """
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = Address(addr_spec=to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id(key, sender)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
    if unsubscribe:
        msg["List-Unsubscribe"] = f"<{unsubscribe}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    # Left to itself, the generator draws the MIME boundary from `random`: the same message
    # would be different bytes on each run. Derived from the key, it is the same every time,
    # and a hash of the key does not turn up in the text by chance.
    msg.set_boundary(f"=_trialwatch_{hashlib.sha256(key.encode('utf-8')).hexdigest()[:24]}")
    return msg


def wire_bytes(msg: EmailMessage) -> bytes:
    """The message as SMTP wants it: CRLF line ends (bare LF is refused by careful servers)."""
    return msg.as_bytes(policy=policy.SMTP)
