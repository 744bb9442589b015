"""One message, many recipients: build it once, then fill in each person's own parts (pure).

A change email to a hundred subscribers who share an audience, a place and a choice of changes
is a hundred copies of one message that differ only in the reader's own parts: the To:
address, the unsubscribe and feed tokens, and what the outbox key derives (the Message-ID and
the MIME boundaries, `watcher.core.message.build_email`). Building each copy costs most of a
millisecond (the templates rendered, headers parsed and folded, bodies encoded); filling a copy
in costs microseconds.

Filling in is only done where it is provably what building would give. A `Merge` builds two
prototypes for sentinel readers, whose tokens are as long as the real ones and differ from
each other in every character, under two different keys; when the first, filled in with the
second's parts, is byte for byte the second, the email package treated those parts as opaque
text (no refolding, no line break inside a token, no base64 around it), and so it treats any
token of that length and alphabet the same way. Otherwise, and for anyone whose address or
tokens are out of the ordinary (an address the package would quote or fold, a token with
characters that get escaped), the copy is built whole, exactly as before: slower, never
different.

A filled-in copy is not written out: it is an `Outgoing` whose `merged` is the body it shares
with the other copies (`watcher.core.shared_body.SharedBody`: the prototype with its reader's
parts cut out, named by a digest) and its reader's tokens (`Filled`). The outbox stores each
shared body once and each row's tokens, and fills the copy in when it is claimed for sending:
the welcomes to 15,000 new subscribers are some 400 bodies rather than 15,000 copies of 29 KB.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import accumulate

from watcher.core.addresses import validate_email
from watcher.core.message import Outgoing
from watcher.core.shared_body import SOFT_BREAK, Filled, Parts, SharedBody
from watcher.core.subscriptions import Subscriber

# Builds a person's message the slow, sure way; `key` is its outbox key.
Build = Callable[[Subscriber, str], Outgoing]

# What is filled in must pass through the email package and the templates untouched: tokens in
# the alphabet of `secrets.token_urlsafe` (no escaping in URLs, HTML or quoted-printable, no
# spaces to wrap at), plain ASCII addresses short enough never to be folded.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,}")
_ADDRESS = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_LONGEST_ADDRESS = 64
_SENTINEL_ADDRESS = "recipient@mailmerge.invalid"


def _occurrences(haystack: bytes, value: bytes) -> Iterator[int]:
    """Where `value` starts in `haystack`, every place (overlapping ones too)."""
    at = haystack.find(value)
    while at != -1:
        yield at
        at = haystack.find(value, at + 1)


class _Unbroken:
    """A message's bytes with quoted-printable's soft line breaks taken out, and the way back:
    a value found in the unbroken text is the value written across those breaks."""

    def __init__(self, body: bytes) -> None:
        lines = body.split(SOFT_BREAK)
        self.text = b"".join(lines)
        self._starts = list(accumulate((len(line) for line in lines[:-1]), initial=0))

    def _at(self, position: int) -> int:
        """Where the unbroken text's byte at `position` is in the message."""
        return position + len(SOFT_BREAK) * (bisect_right(self._starts, position) - 1)

    def spans(self, value: bytes, body: bytes) -> Iterator[tuple[int, int]]:
        """(start, end) in `body` of each place `value` is written, perhaps with soft breaks
        between its bytes but never two in a row, before the first or after the last."""
        for start in _occurrences(self.text, value):
            first, last = self._at(start), self._at(start + len(value) - 1) + 1
            if SOFT_BREAK * 2 not in body[first:last]:
                yield first, last


@dataclass(frozen=True, slots=True)
class _Prototype:
    """A message built for one reader, and the same cut where that reader's parts are."""

    outgoing: Outgoing
    parts: Parts
    shared: SharedBody

    def count(self) -> list[int]:
        """How often each part was found in the prototype."""
        found = [0] * len(self.parts.values())
        for index, _ in self.shared.cuts:
            found[index] += 1
        return found


def _prototype(outgoing: Outgoing, person: Subscriber, key: str) -> _Prototype:
    """`outgoing`, built for `person` under `key`, as a prototype to fill in.

    Found as one alternation of the parts would find them (leftmost first, and where two
    start at once, the earlier in `Parts.values`' order), with `bytes.find` rather than a
    pattern compiled per message: each message's parts differ, so such patterns would be
    compiled afresh each time and crowd `re`'s cache.
    """
    parts = Parts.of(person.email, person.unsubscribe_token, person.feed_token, key)
    to_line, *fixed = parts.values()
    body = outgoing.body
    unbroken = _Unbroken(body)
    candidates = sorted(
        [
            *((start, 0, start + len(to_line)) for start in _occurrences(body, to_line)),
            *(
                (start, index, end)
                for index, value in enumerate(fixed, start=1)
                for start, end in unbroken.spans(value, body)
            ),
        ]
    )
    between: list[bytes] = []
    cuts: list[tuple[int, tuple[int, ...]]] = []
    at = 0
    for start, index, end in candidates:
        if start < at:
            continue  # inside a part already found
        between.append(body[at:start])
        pieces = body[start:end].split(SOFT_BREAK)
        cuts.append((index, tuple(map(len, pieces)) if len(pieces) > 1 else ()))
        at = end
    between.append(body[at:])
    return _Prototype(outgoing, parts, SharedBody.of(tuple(between), tuple(cuts)))


def _fillable(person: Subscriber) -> bool:
    """Whether this reader's parts pass through the email package untouched (module doc)."""
    if not (
        _TOKEN.fullmatch(person.unsubscribe_token)
        and _TOKEN.fullmatch(person.feed_token)
        and len(person.email) <= _LONGEST_ADDRESS
        and _ADDRESS.fullmatch(person.email)
    ):
        return False
    try:
        return validate_email(person.email) == person.email
    except ValueError:  # stored before addresses were checked: built whole, as ever
        return False


def _sentinel(pattern: str, like: str) -> str:
    """A stand-in as long as `like` that differs from it in every character."""
    first = (pattern * len(like))[: len(like)]
    return "".join(c if c != o else c.swapcase() for c, o in zip(first, like, strict=True))


class Merge:
    """Copies of the message `build` makes, one per reader, built once per token shape.

    The first reader of each shape (the lengths of their tokens) gets a message built for them,
    which becomes the prototype; the second makes the check (a message built for a sentinel
    reader must be the prototype filled in with the sentinel's parts); from then on copies are
    filled in. Every copy is the bytes `build(person, key)` would give (see the module
    docstring for why); `build` must depend on the person only through their address, tokens
    and the key.
    """

    def __init__(self, build: Build) -> None:
        self._build = build
        self._prototypes: dict[tuple[int, int], _Prototype | None] = {}
        self._checked: set[tuple[int, int]] = set()

    def __call__(self, person: Subscriber, key: str) -> Outgoing:
        """`person`'s copy, under outbox key `key`."""
        if not _fillable(person):
            return self._build(person, key)
        shape = (len(person.unsubscribe_token), len(person.feed_token))
        if shape not in self._prototypes:
            prototype = _prototype(self._build(person, key), person, key)
            self._prototypes[shape] = prototype
            if prototype.count()[0] != 1:  # the address is not cut out: not to be shared
                return prototype.outgoing
            return _copy(prototype, person, key)  # its own parts back in: the bytes built
        if shape not in self._checked:
            self._checked.add(shape)
            self._prototypes[shape] = self._check(self._prototypes[shape])
        checked = self._prototypes[shape]
        if checked is None:
            return self._build(person, key)
        return _copy(checked, person, key)

    def _check(self, prototype: _Prototype | None) -> _Prototype | None:
        """The prototype when filling it in with a sentinel reader's parts gives exactly the
        message built for that reader, else None."""
        if prototype is None or prototype.count()[0] != 1:
            return None  # the address is not written as a To: line of its own
        model = prototype.parts
        sentinel = Subscriber(
            0,
            _SENTINEL_ADDRESS,
            _sentinel("Zq", model.unsubscribe_token.decode("ascii")),
            _sentinel("Wk", model.feed_token.decode("ascii")),
        )
        key = "mailmerge/sentinel"
        built = self._build(sentinel, key)
        parts = Parts.of(sentinel.email, sentinel.unsubscribe_token, sentinel.feed_token, key)
        if (
            prototype.shared.fill(parts) != built.body
            or built.subject != prototype.outgoing.subject
        ):
            return None
        return prototype


def _copy(prototype: _Prototype, person: Subscriber, key: str) -> Outgoing:
    """`person`'s copy of the prototype under `key`, its body filled in when read."""
    return Outgoing.filled(
        Filled(prototype.shared, person.unsubscribe_token, person.feed_token),
        key=key,
        channel=prototype.outgoing.channel,
        recipient=person.email,
        subject=prototype.outgoing.subject,
        subscriber_id=person.id,
    )
