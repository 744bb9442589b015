"""How hard a text is to read: the Flesch-Kincaid grade, plain and fair (pure).

grade = 0.39 * (words / sentences) + 11.8 * (syllables / words) - 15.59

We write it ourselves rather than pin a package: the score is a project target (plain criteria
at grade 8 or below) and must not move when a dependency changes its counting rules.

Two ways of counting, for two uses:

**Flesch-Kincaid** (`flesch_kincaid_grade`, `flesch_kincaid_grade_of`), the grade a summary
carries:

- A word is a run of letters, digits, apostrophes or inner hyphens/dots ("PD-1", "1.5",
  "don't"); symbols and punctuation alone are not words.
- A sentence ends at ".", "!" or "?" followed by the end of the text, or by a space and a capital
  or a digit; so a decimal point ("1.5") or an abbreviation before lower case ("e.g. a CT") does
  not end one. Text after the last end mark is one more sentence when it has words; a list item
  without an end mark is one sentence.
- Syllables: each part of a word between hyphens or dots is counted alone ("PD-1" → 2 + 1,
  "1.5" → 1 + 1). A run of digits counts 1; an all-capitals abbreviation is spelled out, 1 per
  letter, as it is read aloud ("ECOG" → 4, capped at 5); any other part counts its vowel groups
  (a e i o u y), minus a silent final "e" (but "-le" keeps its syllable: "table" → 2), minus
  one for a final "-ed" that is not "-ted"/"-ded" ("confirmed" → 2), and at least 1.

**The fair measure** (`reading_of`, `fair_grade`), the project's readability target (issue 13,
DESIGN §4), counts what a patient takes in, the way a patient takes it in:

- Units, not sentences: a text is split at ". ; : ! ?" and at line breaks (`units_of`), because a
  semicolon clause or a list member is read in one go as a sentence is. A decimal point ("1.5"),
  a colon between digits ("1:1"), and an end mark before lower case or after "e.g.", "i.e.",
  "vs." or "approx." do not end a unit.
- Hyphenated words are split ("non-small-cell" is three words); a dot inside a word keeps it
  whole ("1.5", "e.g").
- The trial's own names (`names_from`: intervention names and their other names, conditions,
  keywords, MeSH terms, given by the caller) and every word with two capitals or a digit
  ("ECOG", "HER2", "18") count as one syllable: a patient who looks at a trial knows its drug and
  disease names, and an abbreviation is read as one token, not spelled out.
- Everything the patient reads counts, parentheses included: words in parentheses are read
  like any others.

Hard words (`Reading.hard_words`) follow Dale-Chall: a word is familiar when it is on the list of
easy words the caller passes in (the core ships no word list), or is a regular form of one
(plural, possessive, "-ed", "-ing", "-er", "-est", "-ly"), as the Dale-Chall rules count them;
a hard word is unfamiliar, has more than one syllable and is not a name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_WORD = re.compile(r"[A-Za-z0-9']+(?:[-.][A-Za-z0-9']+)*")
_SENTENCE_END = re.compile(r"[.!?]+(?=$|\s+[A-Z0-9])")
_VOWEL_GROUP = re.compile(r"[aeiouy]+")
_ABBREVIATION_SPELLED_MAX = 5


def syllables(word: str) -> int:
    """Syllables in one word, by the Flesch-Kincaid rules in the module docstring."""
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


# -- the fair measure ------------------------------------------------------------------------------

LONG_UNIT_WORDS = 20  # a unit over this many words is long (the target: ≤ 10 % of units)

_BREAK = re.compile(r"\n|;|:(?=\s|$)|[.!?]+(?=\s|$)")
_NO_BREAK_AFTER = re.compile(r"(?:\b(?:e\.g|i\.e|vs|approx)\.?)$", re.IGNORECASE)
_FAIR_WORD = re.compile(r"[^\W_]+(?:['\u2019.][^\W_]+)*")
_NAME_PART = re.compile(r"[,;()\[\]/]")
_TWO_CAPITALS = re.compile(r"[A-Z].*[A-Z]")
_DOUBLED = re.compile(r"\b([^\W\d_]+)\s+\1\b", re.IGNORECASE)
_ENDINGS = (
    ("'s", ""),
    ("\u2019s", ""),
    ("ies", "y"),
    ("ied", "y"),
    ("ier", "y"),
    ("iest", "y"),
    ("ily", "y"),
    ("es", ""),
    ("s", ""),
    ("ed", ""),
    ("ed", "e"),
    ("ing", ""),
    ("ing", "e"),
    ("er", ""),
    ("er", "e"),
    ("est", ""),
    ("est", "e"),
    ("ly", ""),
)


def units_of(text: str) -> list[str]:
    """The units a reader takes in one go: `text` split at ". ; : ! ?" and line breaks.

    An end mark (". ! ?") breaks only before a space or the end, and not before a lower-case
    word or after "e.g.", "i.e.", "vs." or "approx."; a colon only before a space or the end (so
    "1.5", "1:1" and "10^9/L" stay whole). Units without a word are dropped.
    """
    units: list[str] = []
    start = 0
    for match in _BREAK.finditer(text):
        mark = match.group()
        if mark[0] in ".!?":
            after = text[match.end() :].lstrip()
            if (after and after[0].islower()) or _NO_BREAK_AFTER.search(text[start : match.end()]):
                continue
        units.append(text[start : match.end()].strip())
        start = match.end()
    units.append(text[start:].strip())
    return [unit for unit in units if _FAIR_WORD.search(unit)]


@dataclass(frozen=True, slots=True)
class Names:
    """The trial's own names, matched as whole phrases in any case (see `names_from`)."""

    pattern: re.Pattern[str] | None

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where the names are in `text`."""
        return [m.span() for m in self.pattern.finditer(text)] if self.pattern else []


NO_NAMES = Names(None)


def names_from(phrases: Iterable[str]) -> Names:
    """A matcher for a trial's names: each phrase is split at commas, semicolons, slashes and
    parentheses ("Pembrolizumab (MK-3475)" → "Pembrolizumab", "MK-3475"; the MeSH term
    "Carcinoma, Non-Small-Cell Lung" → "Carcinoma", "Non-Small-Cell Lung"), and each part
    matches as whole words in any case, a hyphen and a space alike, with a plural ending."""
    parts = {
        " ".join(part.split()).lower()
        for phrase in phrases
        for part in _NAME_PART.split(phrase)
        if _FAIR_WORD.search(part)
    }
    if not parts:
        return NO_NAMES
    alternatives = (
        r"[\s-]+".join(re.escape(w) for w in re.split(r"[\s-]+", part))
        for part in sorted(parts, key=len, reverse=True)
    )
    body = "|".join(alternatives)
    return Names(re.compile(rf"(?<![^\W_])(?:{body})(?:e?s)?(?![^\W_])", re.IGNORECASE))


@dataclass(frozen=True, slots=True)
class Word:
    """A word as the fair measure counts it; a `name` counts one syllable and is never hard."""

    text: str
    syllables: int
    name: bool


def _fair_word(text: str, name: bool) -> Word:
    name = name or bool(_TWO_CAPITALS.search(text)) or any(c.isdigit() for c in text)
    return Word(text, 1 if name else syllables(text), name)


def words_of(unit: str, names: Names = NO_NAMES) -> tuple[Word, ...]:
    """The words of one unit, hyphenated words split, names marked (see the module docstring)."""
    spans = names.spans(unit)
    return tuple(
        _fair_word(m.group(), any(a <= m.start() and m.end() <= b for a, b in spans))
        for m in _FAIR_WORD.finditer(unit)
    )


def _familiar(word: str, easy: frozenset[str]) -> bool:
    lower = word.lower()
    if lower in easy:
        return True
    for ending, replacement in _ENDINGS:
        if lower.endswith(ending) and len(lower) > len(ending) + 1:
            stem = lower[: -len(ending)] + replacement
            if stem in easy or (len(stem) > 2 and stem[-1] == stem[-2] and stem[:-1] in easy):
                return True
    return False


def is_hard(word: Word, easy: frozenset[str]) -> bool:
    """A Dale-Chall hard word: not a name, more than one syllable, not a familiar word."""
    return not word.name and word.syllables > 1 and not _familiar(word.text, easy)


@dataclass(frozen=True, slots=True)
class Reading:
    """Texts as a patient reads them, split into units of words, ready to be measured."""

    units: tuple[tuple[Word, ...], ...]

    @property
    def words(self) -> int:
        """How many words there are."""
        return sum(len(unit) for unit in self.units)

    @property
    def grade(self) -> float:
        """The fair Flesch-Kincaid grade (0.0 for no words)."""
        total = sum(word.syllables for unit in self.units for word in unit)
        return _grade(self.words, len(self.units), total)

    def long_units(self, limit: int = LONG_UNIT_WORDS) -> int:
        """How many units have more than `limit` words."""
        return sum(1 for unit in self.units if len(unit) > limit)

    def hard_words(self, easy: frozenset[str]) -> list[Word]:
        """The hard words, in reading order (see `is_hard`)."""
        return [word for unit in self.units for word in unit if is_hard(word, easy)]


def reading_of(texts: Iterable[str], names: Names = NO_NAMES) -> Reading:
    """Several texts read together (the items of a list), each split into its units."""
    units = (words_of(unit, names) for text in texts for unit in units_of(text))
    return Reading(tuple(unit for unit in units if unit))


def fair_grade(text: str, names: Names = NO_NAMES) -> float:
    """The fair grade of one text (see the module docstring)."""
    return reading_of([text], names).grade


def doubled_words(text: str) -> list[str]:
    """Words written twice in a row ("liver liver"), in any case, lower-cased."""
    return [match.group(1).lower() for match in _DOUBLED.finditer(text)]
