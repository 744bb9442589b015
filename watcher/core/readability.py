"""Flesch-Kincaid grade level, computed offline with a documented syllable heuristic (pure).

grade = 0.39 * (words / sentences) + 11.8 * (syllables / words) - 15.59

We write it ourselves rather than pin a package: the score is a project target (plain criteria
at grade 8 or below) and must not move when a dependency changes its counting rules.

Counting rules, chosen for eligibility text:

- A word is a run of letters, digits, apostrophes or inner hyphens/dots ("PD-1", "1.5",
  "don't"); symbols and punctuation alone are not words.
- A sentence ends at ".", "!" or "?" followed by the end of the text, or by a space and a capital
  or a digit; so a decimal point ("1.5") or an abbreviation before lower case ("e.g. CT") does
  not end one. Text after the last end mark is one more sentence when it has words; a list item
  without an end mark is one sentence.
- Syllables: each part of a word between hyphens or dots is counted alone ("PD-1" → 2 + 1,
  "1.5" → 1 + 1). A run of digits counts 1; an all-capitals abbreviation is spelled out, 1 per
  letter, as it is read aloud ("ECOG" → 4, capped at 5); any other part counts its vowel groups
  (a e i o u y), minus a silent final "e" (but "-le" keeps its syllable: "table" → 2), minus
  one for a final "-ed" that is not "-ted"/"-ded" ("confirmed" → 2), and at least 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORD = re.compile(r"[A-Za-z0-9']+(?:[-.][A-Za-z0-9']+)*")
_SENTENCE_END = re.compile(r"[.!?]+(?=$|\s+[A-Z0-9])")
_VOWEL_GROUP = re.compile(r"[aeiouy]+")
_ABBREVIATION_SPELLED_MAX = 5


def syllables(word: str) -> int:
    """Syllables in one word, by the rules in the module docstring."""
    return sum(_part_syllables(part) for part in re.split(r"[-.]", word) if part)


def _part_syllables(part: str) -> int:
    if part.isdigit():
        return 1
    if part.isupper() and len(part) > 1:
        return min(len(part), _ABBREVIATION_SPELLED_MAX)
    letters = re.sub(r"[^a-z]", "", part.lower())
    count = len(_VOWEL_GROUP.findall(letters))
    silent_e = letters.endswith("e") and not (len(letters) > 2 and letters.endswith("le"))
    silent_ed = letters.endswith("ed") and not letters.endswith(("ted", "ded"))
    return max(count - (silent_e or silent_ed), 1)


def _counts(text: str) -> tuple[int, int, int]:
    """(words, sentences, syllables) of one text, by the rules in the module docstring."""
    words = _WORD.findall(text)
    sentences = sum(1 for part in _SENTENCE_END.split(text.strip()) if _WORD.search(part))
    return len(words), sentences, sum(syllables(word) for word in words)


def _grade(words: int, sentences: int, total_syllables: int) -> float:
    if not words:
        return 0.0
    return 0.39 * words / max(sentences, 1) + 11.8 * total_syllables / words - 15.59


def flesch_kincaid_grade(text: str) -> float:
    """The Flesch-Kincaid grade of `text` (0.0 for text with no words)."""
    return _grade(*_counts(text))


def flesch_kincaid_grade_of(texts: Iterable[str]) -> float:
    """One grade for several texts read together, each (a list item) at least one sentence.

    Joining list items into one string would merge items that end without a full stop into one
    long sentence; counting each on its own keeps the list read the way it is shown.
    """
    words = sentences = total = 0
    for text in texts:
        w, s, syl = _counts(text)
        if w:
            words, sentences, total = words + w, sentences + max(s, 1), total + syl
    return _grade(words, sentences, total)
