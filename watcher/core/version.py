"""A version about to be stored, with what the poll derived from its record (pure).

The poll reads a fetched record once: its content hash (is it new?), its light fields (the
stamp the next cycle compares), its title (for listings and feeds) and its changes against the
previous version. It hands all of that to the store in one `NewVersion`, so the store writes
what it is given and never needs to know where a title sits in a registry record
(docs/ARCHITECTURE.md, "the walk of one change").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from watcher.core import codec
from watcher.core.canonical import Stamp, brief_title, content_hash, stamp_of
from watcher.core.change import Change
from watcher.core.clean import clean_record


@dataclass(frozen=True, slots=True)
class NewVersion:
    """One trial's new version: the record as served and what was derived from it.

    `sentences` are the changes' plain-English sentences, in the same order as `changes`.
    """

    nct_id: str
    raw: dict[str, Any]
    content_hash: str
    stamp: Stamp
    title: str | None
    changes: tuple[Change, ...] = ()
    sentences: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        nct_id: str,
        raw: dict[str, Any],
        content_hash: str,
        changes: Sequence[Change] = (),
        sentences: Sequence[str] = (),
    ) -> NewVersion:
        """Derive the stamp and the title from `raw`, once."""
        return cls(
            nct_id,
            raw,
            content_hash,
            stamp_of(raw),
            brief_title(raw),
            tuple(changes),
            tuple(sentences),
        )


@dataclass(frozen=True, slots=True)
class FirstVersion:
    """A new watch's first version, ready to store: what the store writes and nothing more.

    Nothing is compared or told for a first version, so the record itself is not kept: a cold
    start makes thousands of these, in a worker process (`watcher.service.firsts`), and hands
    back only the light fields, the hash and the packed keyframe.
    """

    nct_id: str
    content_hash: str
    stamp: Stamp
    title: str | None
    codec: str
    blob: bytes

    @classmethod
    def of(cls, nct_id: str, raw: dict[str, Any]) -> FirstVersion:
        """`raw` as the registry served it: cleaned (`watcher.core.clean`), hashed, its light
        fields and title read, and packed as a keyframe."""
        raw = clean_record(raw)
        name, blob = codec.encode(raw, None, 0)
        return cls(nct_id, content_hash(raw), stamp_of(raw), brief_title(raw), name, blob)
