"""An email's text and HTML parts, the bytes the `email` package writes, a C scan faster (pure).

`EmailMessage.set_content(text)` picks a transfer encoding and, for a long line (every HTML
part: its style attributes; a plain-text part with a long link), encodes the part as
quoted-printable in pure Python: `quoprimime.body_encode` maps each character through
`str.translate` with a table of strings, the slowest step of building a change email. Here the
few characters that need quoting are found by one regular expression, the lines are broken by
the package's own rule (copied below), and each line is encoded once per process; every other
choice (7bit, 8bit, base64) is left to the package. The result is the part `set_content`
makes, byte for byte (`tests/test_mimetext.py` compares them on many texts).
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


def _broken(line: str, maxlinelen: int) -> str:
    """`quoprimime.body_encode`'s rule for a quoted line: in pieces of at most `maxlinelen`,
    each but the last ending in a soft break ("="), never inside an "=XX"; whitespace ending
    the line quoted, room permitting."""
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


@lru_cache(maxsize=16384)
def encoded_line(line: bytes, maxlinelen: int) -> str:
    """One line of a body (UTF-8, no line end) in quoted-printable, as the package's
    `quoprimime.body_encode` writes it: the characters it quotes found by a regular expression
    rather than its translation table, the line broken by its rule (`_broken`). Remembered:
    the layout's lines and a letter's are the same in every copy built."""
    return _broken(_QUOTED.sub(_quote, line.decode("latin-1")), maxlinelen)


def _quoted_printable(text: str, policy: Policy) -> str | None:
    """The part's quoted-printable body when `set_content` would choose that encoding for
    `text` (UTF-8) under `policy`, else None: the same test on the same lines as
    `contentmanager._encode_text`.

    That test encodes the first ten lines (with the policy's line ends) and the whole body
    apart; as quoted-printable encodes each line on its own and `quoprimime.body_encode` ends
    every line with "\n" whatever it was, both are the lines encoded once, joined."""
    lines = text.encode("utf-8").splitlines()
    limit = policy.max_line_length
    if limit is None or max(map(len, lines), default=0) <= limit:
        return None  # 7bit or 8bit
    encoded = [encoded_line(line, limit) for line in lines]
    first = encoded[:10]
    sniff = sum(map(len, lines[:10])) + len(policy.linesep) * len(first)
    if sum(map(len, first)) + len(first) > 4 * ((sniff + 2) // 3) + 1:  # its base64 is shorter
        return None  # base64
    return "\n".join(encoded) + "\n"


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
