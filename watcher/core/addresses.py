"""Email addresses: one simple check, shared by the settings and the subscriber list.

RFC 5322 also allows quoted local parts, comments and IP-literal domains. Nobody types those
into a sign-up form, many mail servers refuse them, and accepting them only moves the failure
from the moment someone can fix it to the outbox, hours later. So an address here is:

- a local part of letters, digits and ``!#$%&'*+/=?^_`{|}~.-`` (no spaces, quotes or brackets;
  no leading, trailing or doubled dot);
- one ``@``;
- a domain of dot-separated labels of letters (any script), digits and inner hyphens. A single
  label such as ``localhost`` is allowed, for mail that never leaves the machine. A domain in
  another script is stored and sent in its IDNA form (``müller.de`` → ``xn--mller-kva.de``):
  that is what DNS and every SMTP server understand, and a Unicode domain in an envelope or a
  header makes every send raise UnicodeEncodeError.

A local part outside ASCII (``zoë@…``) is refused: it can only be sent with SMTPUTF8, which
many servers do not offer, and the failure would come hours later, at delivery.

Nothing is looked up: whether an address can receive mail is the mail server's call. Errors are
`ValueError`s whose message can be shown as is; each caller adds where the text came from (a
settings key, a command-line argument) and raises its own `WatcherError`.
"""

from __future__ import annotations

import json
import re

_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_ADDRESS = re.compile(rf"(?P<local>{_LOCAL})@(?P<domain>{_LABEL}(?:\.{_LABEL})*)")
# The same shape with any letters before the @, to tell "not ASCII" from "not an address".
_UNICODE_ADDRESS = re.compile(rf"[\w!#$%&'*+/=?^`{{|}}~.-]+@(?:{_LABEL}(?:\.{_LABEL})*)")
# Every form an address may take in free text (a server's answer, a log line), for redaction:
# a dot-atom or quoted local part; a domain with or without dots, in any script, or an IP literal.
_ANY_ADDRESS = re.compile(
    r'(?:"(?:[^"\\\r\n]|\\.)*"|[\w.!#$%&\'*+/=?^`{|}~-]+)@(?:\[[^\]\s]*\]|[\w-]+(?:\.[\w-]+)*)'
)
REDACTED = "<email>"
# "Name <address>", the name optionally in double quotes.
_MAILBOX = re.compile(r'(?:"(?P<quoted>[^"\\]*)"|(?P<name>[^"<>]*?))\s*<(?P<address>[^<>]*)>')
# Characters that make a display name ambiguous in a header unless it is quoted (RFC 5322 specials).
_SPECIALS = frozenset('()<>[]:;@\\,."')


def validate_email(text: str) -> str:
    """Return the address as typed (trimmed, a non-ASCII domain in its IDNA form), or raise
    ValueError saying what is wrong. Whether two addresses are one is `address_key`'s call."""
    candidate = text.strip()
    match = _ADDRESS.fullmatch(candidate)
    if match is None:
        why = ""
        if _UNICODE_ADDRESS.fullmatch(candidate):
            why = (
                " (letters outside ASCII before the @ need SMTPUTF8, which mail servers do not "
                "all offer; use an ASCII address)"
            )
        raise ValueError(
            f"{_quoted(candidate)} is not an email address; expected e.g. name@example.org{why}"
        )
    return f"{match['local']}@{_ascii_domain(match['domain'], candidate)}"


def address_key(address: str) -> str:
    """What two addresses must share to be one mailbox: the whole address, case-folded.

    RFC 5321 (2.4) lets a server treat the local part as case-sensitive, and says in the same
    breath that doing so "impedes interoperability and is discouraged"; no mail system in wide
    use does it. So ``FAM@Example.org`` and ``fam@example.org`` are one subscriber (one email
    per change, not two), kept as first typed. Addresses here are ASCII (`validate_email`), so
    ASCII folding is all there is, and it is what SQLite's ``lower()`` does too.
    """
    return address.strip().lower()


def _ascii_domain(domain: str, candidate: str) -> str:
    """The domain as typed when ASCII, else in its IDNA (xn--) form (lower-case, as IDNA is)."""
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError(
            f"{_quoted(candidate)} is not an email address: its domain has no IDNA form"
        ) from None


def _quoted(text: str) -> str:
    """`text` in double quotes, line breaks and control characters escaped: one line always."""
    return json.dumps(text, ensure_ascii=False)


def redact_addresses(text: str) -> str:
    """`text` with every email address in it (any form, even "root@localhost") as `<email>`.

    For text trialwatch did not write: a mail server's answer, an exception, a log line.
    """
    return _ANY_ADDRESS.sub(REDACTED, text)


def validate_mailbox(text: str) -> str:
    """Accept an address with an optional display name ("trialwatch <tw@example.org>").

    Returns "Name <address>" (the name quoted when it holds characters that would otherwise split
    the header) or the bare address, ready for a From: or To: header.
    """
    candidate = text.strip()
    match = _MAILBOX.fullmatch(candidate)
    if match is None:
        return validate_email(candidate)
    name = (match["quoted"] if match["quoted"] is not None else match["name"]).strip()
    if any(not ch.isprintable() for ch in name):
        raise ValueError(f"{_quoted(candidate)}: the display name holds control characters")
    address = validate_email(match["address"])
    if not name:
        return address
    if _SPECIALS.intersection(name):
        name = f'"{name}"'
    return f"{name} <{address}>"
