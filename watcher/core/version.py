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

from watcher.core.canonical import Stamp, brief_title, stamp_of
from watcher.core.change import Change


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
