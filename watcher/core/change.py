"""Stored changes as plain data: what feeds, digests and history read back (pure).

The store writes a change once, with its plain-English sentence, when it is found; everything
that shows changes later reads these records instead of diffing again.
"""

from __future__ import annotations

from dataclasses import dataclass

from watcher.core.diff import Change


@dataclass(frozen=True, slots=True)
class StoredChange:
    """A change as saved: the pure `Change` plus where and when it was found."""

    id: int
    nct_id: str
    from_version: int
    to_version: int
    detected_at: str
    change: Change
    sentence: str | None = None  # plain English, written when the change was found


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One new version's changes: what a feed entry or a notification is about."""

    nct_id: str
    to_version: int
    detected_at: str
    content_hash: str
    brief_title: str | None
    changes: tuple[StoredChange, ...]
