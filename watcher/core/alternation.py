"""Many words as one pattern that tries the longest first, written as a trie (pure).

A pattern of a thousand alternatives, longest first (`heart failure|heart|…`), is tried one
alternative after the other at every place in a text: the glossary's aliases, the negation cues
and the comparator phrases made the rewrite and its fidelity check slow that way. The same
words as a trie (`heart(?: failure)?|…`) follow only the words that go on matching the text,
and still try each word before the shorter ones it starts with, so the pattern finds exactly
what the alternatives in that order find: at each place, the longest word the rest of the
pattern accepts after it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# A trie: each character leads to the node of the words that go on with it; "" ends a word.
_Trie = dict[str, "_Trie"]


def longest_first(words: Iterable[str], *, ignore_case: bool = False) -> str:
    """`words` as one pattern (no group around it), each tried before the words it starts.

    With `ignore_case`, the pattern must be used case-insensitively: a character joins the
    branch of one that matches it in another case ("A" that of "a", "ϐ" that of "β"), so no two
    branches of a node match the same text and the longest word still comes first.
    """
    root: _Trie = {}
    for word in words:
        node = root
        for char in word:
            if ignore_case:
                char = next((known for known in node if _same_letter(known, char)), char)
            node = node.setdefault(char, {})
        node[""] = {}
    return _written(root)


def _same_letter(known: str, char: str) -> bool:
    """Whether a case-insensitive pattern matches `char` where it reads `known`."""
    if not known:
        return False  # the end of a word
    if known.isascii() and char.isascii():
        return known.lower() == char.lower()
    return re.fullmatch(f"(?i:{re.escape(known)})", char) is not None


def _written(node: _Trie) -> str:
    branches = [re.escape(char) + _written(child) for char, child in node.items() if char]
    if not branches:
        return ""
    body = "|".join(branches)
    if "" in node:
        return f"(?:{body})?"
    return body if len(branches) == 1 else f"(?:{body})"
