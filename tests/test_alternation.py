"""`longest_first` finds what the same words as plain alternatives, longest first, find."""

from __future__ import annotations

import random
import re

import pytest

from watcher.core.alternation import longest_first
from watcher.data import load_glossary

# Words that start one another, in both cases, with a non-ASCII letter and its other forms.
WORDS = (
    *("at least", "At least", "at least 5", "at", "a", "no", "no more than", "not", "NOT only"),
    *("\u03b2-hCG", "\u03b2hCG test", "\u03d0-hCG test"),  # beta, and the beta symbol
    *("heart", "heart failure", "heart failure (HF)", "e.g.", "e.g"),
)
PIECES = (*WORDS, "AT LEAST", "\u03d0-HCG", "\u0392-hcg", "heart-", "failure", "(", ")", " ", ",")
PIECES += ("5", "x")


def plain(words: tuple[str, ...]) -> str:
    return "|".join(map(re.escape, sorted(words, key=len, reverse=True)))


def texts(count: int, seed: int) -> list[str]:
    pick = random.Random(seed)
    return ["".join(pick.choice(PIECES) for _ in range(pick.randint(1, 12))) for _ in range(count)]


@pytest.mark.parametrize("flags", [0, re.IGNORECASE])
def test_the_trie_finds_what_the_alternatives_longest_first_find(flags: int) -> None:
    ignore_case = bool(flags)
    around = r"(?<![\w-])({})(?![\w-])"
    slow = re.compile(around.format(plain(WORDS)), flags)
    fast = re.compile(around.format(longest_first(WORDS, ignore_case=ignore_case)), flags)
    found = 0
    for text in texts(3000, seed=15):
        expected = [(m.span(), m.group(1)) for m in slow.finditer(text)]
        assert [(m.span(), m.group(1)) for m in fast.finditer(text)] == expected, text
        found += len(expected)
    assert found > 1000  # the texts do hold the words: the comparison is not of empty lists


def test_the_glossary_cues_as_a_trie_find_what_they_found_in_the_fixture_words() -> None:
    """The packaged negation cues, a trie against the alternatives, on text made of them."""
    cues = load_glossary().negation_cues
    slow = re.compile(rf"(?<![\w-])({plain(cues)})(?![\w-])")
    fast = re.compile(rf"(?<![\w-])({longest_first(cues)})(?![\w-])")
    pick = random.Random(6)
    for _ in range(500):
        text = " ".join(pick.choice([*cues, "x", "-", "(", "a"]) for _ in range(8))
        assert fast.findall(text) == slow.findall(text), text


def test_no_words_is_an_empty_pattern() -> None:
    assert longest_first(()) == ""
