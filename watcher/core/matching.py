"""Pairing the items of two versions of a list: what was edited, removed and added (pure).

Registry lists (sites, criteria, arms, outcomes) have no stable IDs and reorder freely, so
`watcher.core.diff` pairs them here by what they are: identical items cancel out wherever they
stand, then items pair by a key (the same site, the same arm name), then by likeness. It is
kept apart from the diff because it knows nothing about trials, and its one rule (every tie
broken on content, never on side) is what makes diff(b, a) mirror diff(a, b).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from difflib import SequenceMatcher
from typing import TypeVar

# Two texts at least this similar (difflib ratio) are one item edited, not one removed and
# another added. Tuned on the real edits in the fixtures: "2L" → "2/3L" in an arm label,
# "(Arm 5 and Arm 6)" → "(Arm 5, Arm 6, and Arm 8)" in an outcome, reworded criteria.
SIMILAR = 0.7

T = TypeVar("T")


def similarity(a: str, b: str, floor: float = SIMILAR) -> float:
    """difflib's ratio, made symmetric (it is not, in general); 0.0 when below `floor`."""
    first, second = sorted((a, b))
    matcher = SequenceMatcher(None, first, second, autojunk=False)
    if matcher.real_quick_ratio() < floor or matcher.quick_ratio() < floor:
        return 0.0
    ratio = matcher.ratio()
    return ratio if ratio >= floor else 0.0


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (latitude, longitude) points in km (haversine)."""
    (lat1, lon1), (lat2, lon2) = (tuple(map(math.radians, p)) for p in (a, b))
    h = math.sin((lat2 - lat1) / 2) ** 2
    h += math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def _unmatched(items: Sequence[T], common: Counter[str], ident: Callable[[T], str]) -> list[T]:
    left = Counter(common)
    out = []
    for item in items:
        name = ident(item)
        if left[name] > 0:
            left[name] -= 1
        else:
            out.append(item)
    return out


def match(
    old: Sequence[T],
    new: Sequence[T],
    ident: Callable[[T], str],
    key: Callable[[T], Hashable] | None = None,
    score: Callable[[T, T], float] | None = None,
) -> tuple[list[tuple[T, T]], list[T], list[T]]:
    """Pair old items with new ones: (edited pairs, removed, added).

    Identical items (same `ident`) cancel out whatever their position, so a reordered list is
    no change. What is left pairs up by `key` first (same site, same arm name), then by
    `score` (a symmetric likeness from 0 to 1), best first, when it reaches `SIMILAR`. Every
    tie is broken on the items' own content, never on which side they came from, so
    diff(b, a) mirrors diff(a, b).
    """
    known: dict[int, str] = {}

    def name(item: T) -> str:  # idents cost a JSON dump: one per item, not one per look
        if id(item) not in known:
            known[id(item)] = ident(item)
        return known[id(item)]

    common = Counter(map(name, old)) & Counter(map(name, new))
    removed = _unmatched(old, common, name)
    added = _unmatched(new, common, name)
    pairs: list[tuple[T, T]] = []
    if key is not None and removed and added:
        by_key: dict[Hashable, tuple[list[T], list[T]]] = {}
        for item in removed:
            by_key.setdefault(key(item), ([], []))[0].append(item)
        for item in added:
            by_key.setdefault(key(item), ([], []))[1].append(item)
        removed, added = [], []
        for olds, news in by_key.values():
            olds.sort(key=name)
            news.sort(key=name)
            pairs += zip(olds, news, strict=False)
            removed += olds[len(news) :]
            added += news[len(olds) :]
    if score is not None and removed and added:
        candidates = []
        for i, was in enumerate(removed):
            for j, now in enumerate(added):
                likeness = score(was, now)
                if likeness >= SIMILAR:
                    low, high = sorted((name(was), name(now)))
                    candidates.append((-likeness, low, high, i, j))
        taken_old: set[int] = set()
        taken_new: set[int] = set()
        for *_, i, j in sorted(candidates):
            if i not in taken_old and j not in taken_new:
                taken_old.add(i)
                taken_new.add(j)
                pairs.append((removed[i], added[j]))
        removed = [item for i, item in enumerate(removed) if i not in taken_old]
        added = [item for j, item in enumerate(added) if j not in taken_new]
    return pairs, removed, added
