"""A body many copies of one email share, and each reader's parts filled into it (pure).

`watcher.core.mailmerge` finds where a reader's own parts are in an email built for them (the
To: line, the unsubscribe and feed tokens, what the outbox key derives) and cuts them out: the
rest is the `SharedBody`, the same for every reader of that email, which the outbox stores once.
A copy (`Filled`) is that body and its reader's tokens; its bytes are made when read, or when
the outbox claims the row for sending.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from hashlib import sha256
from itertools import accumulate


def key_marks(key: str) -> tuple[str, str]:
    """The parts of a message derived from its key: the Message-ID's hash and the boundaries'
    (a prefix of it, so the longer one is matched first)."""
    digest = sha256(key.encode("utf-8")).hexdigest()
    return digest[:32], digest[:24]


SOFT_BREAK = b"=\r\n"  # where quoted-printable breaks a long line; not part of the text


@dataclass(frozen=True, slots=True)
class Parts:
    """One reader's own parts, as they appear in the message's bytes."""

    to_line: bytes
    unsubscribe_token: bytes
    feed_token: bytes
    message_id: bytes
    boundary: bytes

    @classmethod
    def of(cls, address: str, unsubscribe_token: str, feed_token: str, key: str) -> Parts:
        """This reader's parts in a message queued under outbox key `key`."""
        message_id, boundary = key_marks(key)
        return cls(
            b"\r\nTo: " + address.encode("ascii") + b"\r\n",
            unsubscribe_token.encode("ascii"),
            feed_token.encode("ascii"),
            message_id.encode("ascii"),
            boundary.encode("ascii"),
        )

    def values(self) -> tuple[bytes, ...]:
        """The parts in matching order: the To: line (whole), then those of a fixed length,
        which a quoted-printable body may break across lines (longest-derived first)."""
        return (
            self.to_line,
            self.unsubscribe_token,
            self.feed_token,
            self.message_id,
            self.boundary,
        )


@dataclass(frozen=True, slots=True)
class SharedBody:
    """A message's bytes with its reader's parts cut out: what every copy has in common, kept
    once in the outbox under `digest` (the rows keep their reader's parts).

    `between[i]` is the text before cut `i`, the last one the rest; `cuts[i]` is which part goes
    there (its place in `Parts.values`) and, where quoted-printable broke it across lines, the
    lengths of its pieces between the soft breaks (else empty).
    """

    digest: str
    text: bytes  # as the outbox keeps it: the parts cut out
    where: str  # and where they go: [[offset in text, part, pieces], …] as JSON
    between: tuple[bytes, ...]
    cuts: tuple[tuple[int, tuple[int, ...]], ...]

    @classmethod
    def of(
        cls, between: tuple[bytes, ...], cuts: tuple[tuple[int, tuple[int, ...]], ...]
    ) -> SharedBody:
        """The body cut so, named by the digest of what the outbox keeps."""
        ends = accumulate(len(text) for text in between[:-1])
        where = [[at, index, list(pieces)] for at, (index, pieces) in zip(ends, cuts, strict=True)]
        text, where_text = b"".join(between), json.dumps(where, separators=(",", ":"))
        digest = sha256(text + b"\0" + where_text.encode("ascii")).hexdigest()
        return cls(digest, text, where_text, between, cuts)

    @classmethod
    def from_stored(cls, digest: str, text: bytes, where: str) -> SharedBody:
        """The body as the outbox keeps it (`text`, `where`)."""
        cuts = json.loads(where)
        ends = [at for at, _, _ in cuts]
        between = tuple(text[a:b] for a, b in zip([0, *ends], [*ends, len(text)], strict=True))
        parts = tuple((index, tuple(pieces)) for _, index, pieces in cuts)
        return cls(digest, text, where, between, parts)

    def fill(self, parts: Parts) -> bytes:
        """The message with `parts` in place."""
        values = parts.values()
        between = self.between
        out = [between[0]]
        for number, (index, pieces) in enumerate(self.cuts, start=1):
            out += (_broken(values[index], pieces) if pieces else values[index], between[number])
        return b"".join(out)

    def fill_stored(self, recipient: str, key: str, parts: str) -> bytes:
        """The message for `recipient` under outbox key `key`, with the reader's parts as
        `Filled.stored_parts` wrote them."""
        unsubscribe_token, feed_token = json.loads(parts)
        return self.fill(Parts.of(recipient, unsubscribe_token, feed_token, key))


def _broken(value: bytes, pieces: tuple[int, ...]) -> bytes:
    """`value` in pieces of these lengths, with a soft line break between each two."""
    out, at = [], 0
    for length in pieces:
        out.append(value[at : at + length])
        at += length
    return SOFT_BREAK.join(out)


@dataclass(frozen=True, slots=True)
class Filled:
    """A copy as the outbox keeps it: the body it shares, and its reader's tokens (the address
    and the key, its other parts, are the message's own recipient and key)."""

    shared: SharedBody
    unsubscribe_token: str
    feed_token: str

    def body(self, recipient: str, key: str) -> bytes:
        """The copy's bytes: what `build` gives for this reader."""
        parts = Parts.of(recipient, self.unsubscribe_token, self.feed_token, key)
        return self.shared.fill(parts)

    def stored_parts(self) -> str:
        """The reader's parts as the outbox row keeps them (`SharedBody.fill_stored`)."""
        return json.dumps([self.unsubscribe_token, self.feed_token])
