"""Outgoing messages as data, and email built with the stdlib `email` package (pure).

A message is decided and rendered when the change is found, and stored in the outbox in the
same transaction (whole, or as a body shared with other readers and this reader's own parts,
`watcher.core.shared_body`), so delivery later is only transport: what was decided is what is sent,
after any number of restarts. Its `key` is unique in the outbox (a message is queued once) and
becomes the Message-ID, so even a retry after an ambiguous SMTP failure carries the same ID and
mail systems can fold the copies.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage, Message
from email.policy import Policy
from email.utils import format_datetime, parseaddr
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import quote

from watcher.core.addresses import validate_email
from watcher.core.mimetext import text_part
from watcher.core.shared_body import Filled

CHANNELS = ("email", "webhook", "apprise")


class _Shared:
    """Where a filled-in copy keeps what it shares (`Outgoing.merged`): a slot of its own, not
    a field, so a message made by the constructor (or `replace`, or from `asdict`) is whole."""

    __slots__ = ("merged",)
    merged: Filled | None


@dataclass(frozen=True, slots=True)
class Outgoing(_Shared):
    """One message to send, as the outbox stores it.

    A copy filled in from a body it shares with other readers (`watcher.core.shared_body`) has
    `merged`: the outbox keeps that body once and the reader's own parts beside each row, and
    `body` is only made when read (a release's thousand copies of one email are never all
    written out). `merged` is not a field: `dataclasses.replace` gives a message built whole,
    so a copy given another body is stored with that body.
    """

    key: str  # idempotency key: unique in the outbox
    channel: str  # "email" | "webhook" | "apprise"
    recipient: str  # an address, a webhook URL, or a chat channel's name
    subject: str
    body: bytes  # the whole RFC 5322 message, the webhook's JSON, or a chat message's JSON
    subscriber_id: int | None = None

    @classmethod
    def filled(
        cls,
        merged: Filled,
        *,
        key: str,
        channel: str,
        recipient: str,
        subject: str,
        subscriber_id: int | None,
    ) -> Outgoing:
        """A copy whose body is `merged` filled in for `recipient` under `key`, when read."""
        copy = object.__new__(cls)
        for name, value in (
            ("key", key),
            ("channel", channel),
            ("recipient", recipient),
            ("subject", subject),
            ("subscriber_id", subscriber_id),
            ("merged", merged),
        ):
            object.__setattr__(copy, name, value)
        return copy

    if not TYPE_CHECKING:  # hidden from mypy, which would let any attribute through

        def __getattr__(self, name: str) -> bytes | None:
            """Only reached for a slot never set: `merged` of a message built whole, or a
            filled-in copy's `body`, made (and kept) on first use."""
            if name == "merged":
                return None
            merged = self.merged
            if name != "body" or merged is None:
                raise AttributeError(name)
            body = merged.body(self.recipient, self.key)
            object.__setattr__(self, "body", body)
            return body


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


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file carried with an email (a digest's `changes.csv`): its name, MIME type and bytes."""

    filename: str
    content_type: str  # "text/csv"
    data: bytes


@lru_cache(maxsize=64)
def _address_of(sender: str) -> str:
    """The address in a From: value ("trialwatch <alerts@…>"), parsed once per sender: every
    message of a release asks twice (its Message-ID, its mailto: way out)."""
    return parseaddr(sender)[1]


def message_id(key: str, sender: str) -> str:
    """A Message-ID derived from the outbox key: the same message always has the same ID."""
    domain = _address_of(sender).rpartition("@")[2] or "trialwatch.invalid"
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}.trialwatch@{domain}>"


def unsubscribe_targets(
    token: str, web_base_url: str | None, sender: str, *, search_id: int | None = None
) -> tuple[str, ...]:
    """Every way out, best first: the https one-click URL when a web base is set, then mailto:.

    A saved search's email (`search_id`) has its own https URL, which ends that search only
    (RFC 8058: the one POST to it must do what the link says); the mailto: asks to stop all.
    """
    address = _address_of(sender)
    mailto = f"mailto:{address}?subject={quote('unsubscribe ' + token)}"
    if web_base_url:
        url = f"{web_base_url}/unsubscribe/{quote(token, safe='')}"
        return (url if search_id is None else f"{url}/searches/{search_id}", mailto)
    return (mailto,)


def unsubscribe_url(
    token: str, web_base_url: str | None, sender: str, *, search_id: int | None = None
) -> str:
    """The one target shown in the message itself: the https URL when there is one, else mailto:."""
    return unsubscribe_targets(token, web_base_url, sender, search_id=search_id)[0]


def single_line(value: str) -> str:
    """`value` with every line break and control character as a space, fit for a header.

    Header values come from registry text (a trial title) and settings; a CR or LF in one would
    make the email package raise, and anything it let through could start a header of its own.
    """
    if value.isprintable():  # none of those (each is unprintable): the usual case, a C scan
        return value
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in value)


def _to_header(to: str) -> Address | str:
    """The To: header: the address in its IDNA form, or an empty group when it has no ASCII form.

    Subscribers stored before addresses were checked for delivery may have a Unicode domain
    (written here in IDNA) or a non-ASCII local part, which the email package refuses to write:
    building must not raise inside a poll, so the envelope alone carries such an address, and
    the transport sends it (SMTPUTF8) or fails that one message.
    """
    try:
        return Address(addr_spec=validate_email(to))
    except ValueError:
        return "undisclosed-recipients:;"


class _Folded:
    """A header that remembers how it was folded for the wire (`wire_bytes`): the same header
    object serves many messages (`_Headers`), and folding it again would give the same lines.
    The generator hands each MIME part a copy of the policy (`clone(linesep=...)`), so the
    wire's is known by its settings; other policies fold afresh, nothing piles up per header.
    """

    def fold(self, *, policy: Policy) -> str:
        if policy is not _WIRE and policy.__dict__ != _WIRE.__dict__:
            return super().fold(policy=policy)  # type: ignore[misc,no-any-return]
        folded: str | None = self.__dict__.get("_wire")
        if folded is None:
            folded = self.__dict__["_wire"] = super().fold(policy=policy)  # type: ignore[misc]
        return folded


class _Headers(HeaderRegistry):
    """The email package's header factory, remembering what it made.

    The stock factory makes a new class for every header it parses (`type()` on each call) and
    parses every value afresh: most of the cost of building a message, paid again for the same
    From:, Date: and Content-Type: in every email of a release, and the classes it drops are
    garbage the collector must sweep. A parsed header is immutable (the message replaces it,
    never changes it), so one made for a (name, value) serves every message that sets it, and
    is folded once per policy (`_Folded`). Kept to `_REMEMBERED` values: what varies per
    reader (Message-ID, boundaries) would otherwise pile up over a large release.
    """

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}
        self._made: dict[tuple[str, str], BaseHeader] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._classes.get(key)
        if made is None:
            kind = self.registry.get(key, self.default_class)
            made = type(f"_{kind.__name__}", (_Folded, kind, self.base_class), {})
            self._classes[key] = made
        return made

    def __call__(self, name: str, value: object) -> BaseHeader:
        if not isinstance(value, str):  # an Address: parsed each time, as the package does
            return self[name](name, value)
        key = (name, str(value))
        made = self._made.get(key)
        if made is None:
            if len(self._made) >= _REMEMBERED:
                self._made.clear()
            made = self._made[key] = self[name](name, value)
        return made


_REMEMBERED = 1024
_HEADERS = _Headers()
# The default policy, with the remembering factory (`_Headers`): what a message is built with.
_BUILD = policy.default.clone(header_factory=_HEADERS)


# A header value the package writes as it is, on the header's line, when that line fits.
_PLAIN = re.compile(r"<?[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+>?")


def _set_plain(msg: EmailMessage, name: str, value: Address | str) -> None:
    """`msg[name] = value`, set raw when the package would write it unchanged: an address or
    a Message-ID of plain characters, on one line that fits.

    What every reader of a release has of their own (To:, Message-ID:, and the boundary in
    Content-Type:) is a header the package parses and folds afresh each time, a third of what
    building costs; the line it writes for such a value is the value itself, which `_written`
    then writes as it is (`tests/test_message.py` compares them).
    """
    plain = value if isinstance(value, str) else value.addr_spec
    if (
        str(value) == plain
        and _PLAIN.fullmatch(plain)
        and len(name) + 2 + len(plain) <= _BUILD.max_line_length  # type: ignore[operator]
    ):
        msg.set_raw(name, plain)
    else:
        msg[name] = value


def build_email(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    key: str,
    date: datetime,
    unsubscribe: Sequence[str] = (),
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    """A multipart/alternative message (plain text first, HTML second) with list headers;
    with `attachments`, a multipart/mixed one: that message first, then each file (base64, so
    a CSV keeps its CRLF line ends byte for byte).

    `unsubscribe` (from `unsubscribe_targets`) adds List-Unsubscribe, and the RFC 8058 one-click
    header when an https URL is among them (RFC 8058 forbids it beside a mailto: alone); admin
    alerts have none. Every header value is made one line first (`single_line`).
    """
    msg = EmailMessage(policy=_BUILD)
    msg["From"] = single_line(sender)
    _set_plain(msg, "To", _to_header(to))
    msg["Subject"] = single_line(subject)
    msg["Date"] = format_datetime(date)
    _set_plain(msg, "Message-ID", message_id(key, sender))
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
    if unsubscribe:
        # Set raw, folded only between targets: the email package would otherwise fold a long
        # URL into RFC 2047 encoded words, which no mail program reads as a link (`wire_bytes`).
        targets = [f"<{single_line(target).replace(' ', '%20')}>" for target in unsubscribe]
        msg.set_raw("List-Unsubscribe", ",\n ".join(targets))
        if any(target.startswith("https:") for target in unsubscribe):
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # Left to itself, the generator draws each MIME boundary from `random`: the same message
    # would be different bytes on each run. Derived from the key, they are the same every time,
    # and a hash of the key does not turn up in the text by chance. (The outer part keeps the
    # same boundary with or without attachments; the inner alternative one gets its own.)
    boundary = f"=_trialwatch_{hashlib.sha256(key.encode('utf-8')).hexdigest()[:24]}"
    # The tree `set_content` then `add_alternative` would make, made directly: those move the
    # text part's headers into a part of its own and rewrite the Content-Type header three
    # times, a third of what building costs. The HTML part keeps the MIME-Version header of its
    # own that `add_alternative` gives it; the text part, moved out of the message, had none.
    plain = text_part(text, "plain", _BUILD)
    del plain["MIME-Version"]
    rich = text_part(html, "html", _BUILD)
    msg["MIME-Version"] = "1.0"
    # As the package folds it (the line would be 85 characters), set raw: see `_set_plain`.
    msg.set_raw("Content-Type", f'multipart/alternative;\n boundary="{boundary}"')
    msg.attach(plain)
    msg.attach(rich)
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        msg.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    if attachments:  # now multipart/mixed, the alternative part within
        msg.set_boundary(boundary)
        inner = [part for part in msg.iter_parts() if part.is_multipart()]
        for number, part in enumerate(inner, start=1):
            part.set_boundary(f"{boundary}_{number}")
    return msg


# SMTP's policy, except that a header set raw (List-Unsubscribe, already folded at its commas)
# is written as it is instead of being refolded into encoded words when a line is long; lines
# stay far below RFC 5322's hard limit of 998 characters.
_WIRE = policy.SMTP.clone(refold_source="none", header_factory=_HEADERS)


def wire_bytes(msg: EmailMessage) -> bytes:
    """The message as SMTP wants it: CRLF line ends (bare LF is refused by careful servers)."""
    out: list[bytes] = []
    if _written(msg, out):
        return b"".join(out)
    return msg.as_bytes(policy=_WIRE)


_RAW_ALTERNATIVE = re.compile(r'multipart/alternative;\n boundary="([=_A-Za-z0-9]+)"')


def _written(msg: Message, out: list[bytes]) -> bool:
    """Append `msg` to `out` as `msg.as_bytes(policy=_WIRE)` writes it, when it is what
    `build_email` makes (multiparts of parts with text payloads, no preamble or epilogue);
    False, and `out` unfinished, for anything else.

    The same steps as the email package's `BytesGenerator` for such a message: each header as
    the policy folds it, a blank line, then the text with its line ends made CRLF or, for a
    multipart, each part between boundary lines. Without the generator's machinery around
    them (a generator, a buffer and a copy of the policy for each part), writing a change
    email costs a fifth of what it did; `tests/test_message.py` compares the two.
    """
    if msg.preamble is not None or msg.epilogue is not None:
        return False
    payload = msg._payload  # type: ignore[attr-defined]  # as written: get_payload() may decode
    raw = _RAW_ALTERNATIVE.fullmatch(
        next((v for k, v in msg.raw_items() if k == "Content-Type"), "")
    )
    if raw is not None:  # `build_email`'s, set raw: what parsing it would find, unparsed
        main, sub, boundary = "multipart", "alternative", raw.group(1)
    else:
        main, sub = msg.get_content_maintype(), msg.get_content_subtype()
        boundary = msg.get_boundary() if main == "multipart" else None
    if main == "multipart":
        if sub == "signed" or not boundary or not isinstance(payload, list):
            return False
        out += (_WIRE.fold_binary(name, value) for name, value in msg.raw_items())
        out.append(b"\r\n--" + boundary.encode("ascii", "surrogateescape") + b"\r\n")
        for number, part in enumerate(payload):
            if number:
                out.append(b"\r\n--" + boundary.encode("ascii", "surrogateescape") + b"\r\n")
            if not _written(part, out):
                return False
        out.append(b"\r\n--" + boundary.encode("ascii", "surrogateescape") + b"--\r\n")
        return True
    if main == "message" or not isinstance(payload, str):
        return False
    out += (_WIRE.fold_binary(name, value) for name, value in msg.raw_items())
    out.append(b"\r\n")
    crlf = payload.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    out.append(crlf.encode("ascii", "surrogateescape"))  # every line end made CRLF
    return True
