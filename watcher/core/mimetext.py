"""An email's text and HTML parts, the bytes the `email` package writes, a C scan faster (pure).

`EmailMessage.set_content(text)` picks a transfer encoding and, for a long line (every HTML
part: its style attributes; a plain-text part with a long link), encodes the part as
quoted-printable in pure Python: `quoprimime.body_encode` maps each character through
`str.translate` with a table of strings, the slowest step of building a change email. Here the
few characters that need quoting are found by one regular expression and the lines are broken
by the package's own rule, copied below; every other choice (7bit, 8bit, base64) is left to the
package. The result is the part `set_content` makes, byte for byte (`tests/test_mimetext.py`
compares them on many texts).
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.policy import Policy
from functools import lru_cache

# What quoted-printable writes as "=XX" in a body (`quoprimime`'s body map): control
# characters but tab, CR and LF; "="; and every byte above "~" (UTF-8 read as Latin-1).
_QUOTED = re.compile(r"[^\t\n\r -<>-~]+")


def _quote(found: re.Match[str]) -> str:
    """A run of such characters (each one byte: the text is UTF-8 read as Latin-1) as "=XX"s."""
    return "=" + found.group().encode("latin-1").hex("=").upper()


def body_encode(body: str, maxlinelen: int) -> str:
    """`quoprimime.body_encode(body, maxlinelen)`, the same string: the characters quoted by a
    regular expression rather than a translation table, each line broken by its rule."""
    if not body:
        return body
    body = _QUOTED.sub(_quote, body)
    encoded = [_broken(line, maxlinelen) for line in body.splitlines()]
    if body[-1] in "\r\n":
        encoded.append("")
    return "\n".join(encoded)


@lru_cache(maxsize=8192)
def _broken(line: str, maxlinelen: int) -> str:
    """One quoted line in pieces of at most `maxlinelen`, each but the last ending in a soft
    break ("="), never inside an "=XX"; whitespace ending the line quoted, room permitting.
    Remembered: the layout's lines and a letter's are the same in every copy built."""
    pieces = []
    start = 0
    laststart = len(line) - 1 - maxlinelen
    while start <= laststart:
        stop = start + maxlinelen - 1
        if line[stop - 2] == "=":
            pieces.append(line[start : stop - 1])
            start = stop - 2
        elif line[stop - 1] == "=":
            pieces.append(line[start:stop])
            start = stop - 1
        else:
            pieces.append(line[start:stop] + "=")
            start = stop
    if line and line[-1] in " \t":
        room = start - laststart
        quoted = f"={ord(line[-1]):02X}"
        if room >= 3:
            end = quoted
        elif room == 2:
            end = line[-1] + "=\n"
        else:
            end = "=\n" + quoted
        pieces.append(line[start:-1] + end)
    else:
        pieces.append(line[start:])
    return "\n".join(pieces)


def _quoted_printable(text: str, policy: Policy) -> str | None:
    """The part's quoted-printable body when `set_content` would choose that encoding for
    `text` (UTF-8) under `policy`, else None: the same test on the same lines as
    `contentmanager._encode_text`."""
    lines = text.encode("utf-8").splitlines()
    limit = policy.max_line_length
    if limit is None or max((len(line) for line in lines), default=0) <= limit:
        return None  # 7bit or 8bit
    sniff = policy.linesep.encode("ascii").join(lines[:10]) + policy.linesep.encode("ascii")
    sniffed = body_encode(sniff.decode("latin-1"), limit)
    if len(sniffed) > 4 * ((len(sniff) + 2) // 3) + 1:  # len(binascii.b2a_base64(sniff))
        return None  # base64
    if len(lines) <= 10:
        return sniffed
    return body_encode((b"\n".join(lines) + b"\n").decode("latin-1"), limit)


def text_part(text: str, subtype: str, policy: Policy) -> EmailMessage:
    """What `EmailMessage(policy=policy).set_content(text, subtype=subtype)` makes."""
    part = EmailMessage(policy=policy)
    payload = _quoted_printable(text, policy)
    if payload is None:
        part.set_content(text, subtype=subtype)
        return part
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part.set_payload(payload)
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part["MIME-Version"] = "1.0"
    return part
