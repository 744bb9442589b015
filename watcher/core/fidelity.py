"""Does a plain-English rewrite still say what the trial wrote? The safety net, fail closed (pure).

A patient may decide whether to ask about a trial from one rewritten line, so a rewrite that
changes a number, flips "at least" into "more than", drops a "not" or respells BRAF V600E must
never be sent. This checker compares the original item and its rewrite on its own terms. It
does not know how the rewriter works; it knows only the packaged data (the glossary's plain
words, the plain phrases that stand for comparators, the negation cues), and it reads the
rewrite back towards the original:

1. numbers: the same multiset of numbers, counted in the raw rewrite;
2. identifiers: the same gene, variant, version and NCT tokens (any token with a capital letter
   and a digit: PD-1, V600E, RECIST1.1, V5.0, NCT01234567), in the raw rewrite, and the same
   all-capital words (BRAF, ECOG) once the glossary's plain words are taken out;
3. comparators: the same comparators, direction and inclusiveness, in the same order, with
   plain phrases read as symbols ("at least" is ">=", "1 or lower" is "<= 1");
4. negation: the same NegEx cues in the same order ("no", "not", "without", "negative for"…);
5. words: once every "plain words (ORIGINAL)" is put back to "ORIGINAL", the rewrite reads as
   the original word for word, up to case, spacing and the spelling of comparators and ranges
   ("0-1" and "0 to 1" are the same; "≥ Grade 2" and "grade 2 or higher" are the same). The
   original is read back the same way, so a trial that itself wrote "pregnancy test (β-hCG)"
   is not mistaken for a rewrite.

Any difference is a problem; an item with a problem is shown as written. A needless fallback
costs a little readability, a missed one could cost a patient a trial.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from watcher.core.glossary import Glossary

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_IDENTIFIER = re.compile(r"(?<![\w-])(?=[\w.-]*\d)(?=[\w.-]*[A-Z])\w+(?:[.-]\w+)*")
_CAPITALS = re.compile(r"(?<![\w-])[A-Z]{2,}(?![\w-])")
_OPERATOR_SPELLINGS = {"≥": ">=", "≤": "<=", "=>": ">=", "=<": "<="}
_OPERATOR = re.compile(r">=|<=|[<>]")
_TOKEN = re.compile(r">=|<=|[<>]|\d+(?:[.,]\d+)*|[^\W\d_]+|[^\w\s]")
# "2.5 x ULN" (any multiplication sign), "2.5 times the upper limit of normal (ULN)": one thing.
_MULTIPLIER = re.compile(
    r"(\d+(?:\.\d+)?)\s*(?:x|X|\u00d7|\*|times)\s*(?:the\s+)?"
    r"(?:upper limit of normal\s*\(ULN\)|ULN|lower limit of normal\s*\(LLN\)|LLN)"
    r"(?![\w-])"
)
_RANGE = re.compile(r"(?<![\w.\-/])(\d+(?:[.,]\d+)*)\s*(?:-|\u2013|\u2014|~|\bto\b)\s*(?=\d)")
_GRADE_FIRST = re.compile(r"(>=|<=|<|>)\s*(grade|class)\b", re.IGNORECASE)


@lru_cache(maxsize=8)
def _comparator_patterns(
    glossary: Glossary,
) -> tuple[re.Pattern[str], re.Pattern[str], dict[str, str]]:
    """Prefix phrases ("at least 3") and suffix phrases ("3 years or older"), longest first."""
    ops = dict(glossary.comparator_phrases)
    prefix = sorted((p for p in ops if not p.startswith("or ")), key=len, reverse=True)
    suffix = sorted((p for p in ops if p.startswith("or ")), key=len, reverse=True)
    prefix_re = re.compile(r"\b(" + "|".join(map(re.escape, prefix)) + r")\b\s*", re.IGNORECASE)
    suffix_re = re.compile(
        r"(\d+(?:[.,]\d+)*%?|\b[IVX]+\b)((?:\s+[A-Za-z]+){0,3}?)\s+("
        + "|".join(map(re.escape, suffix))
        + r")\b(?!\s+than)",
        re.IGNORECASE,
    )
    return prefix_re, suffix_re, {p.casefold(): op for p, op in ops.items()}


@lru_cache(maxsize=8)
def _plain_pattern(glossary: Glossary) -> tuple[re.Pattern[str], dict[str, set[str]]]:
    """The pattern of every replace term's "plain words (ORIGINAL)", and the ORIGINALs allowed."""
    aliases: dict[str, set[str]] = {}
    for term in glossary.terms:
        if not term.replace:
            continue
        allowed = {p.casefold() for p in term.phrases} | set(term.abbreviations)
        for plain in filter(None, (term.plain, term.plain_plural)):
            aliases.setdefault(plain.casefold(), set()).update(allowed)
    alternatives = "|".join(map(re.escape, sorted(aliases, key=len, reverse=True)))
    pattern = re.compile(rf"(?<![\w-])({alternatives}) \(([^()]+)\)", re.IGNORECASE)
    return pattern, aliases


@lru_cache(maxsize=8)
def _negation_patterns(glossary: Glossary) -> tuple[re.Pattern[str], re.Pattern[str]]:
    def words(phrases: tuple[str, ...]) -> re.Pattern[str]:
        ordered = sorted(phrases, key=len, reverse=True)
        return re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, ordered)) + r")(?![\w-])")

    return words(glossary.negation_cues), words(glossary.pseudo_negations)


def restore(plain: str, glossary: Glossary) -> str:
    """The rewrite with each "plain words (ORIGINAL)" put back to "ORIGINAL".

    Only a wrapping the glossary allows is undone (the plain words of a term around one of that
    term's own phrases or abbreviations); anything else stays and will fail the word check.
    """
    pattern, aliases = _plain_pattern(glossary)

    def back(match: re.Match[str]) -> str:
        inner = match.group(2)
        allowed = aliases[match.group(1).casefold()]
        return inner if inner in allowed or inner.casefold() in allowed else match.group(0)

    return pattern.sub(back, plain)


def canonical(text: str, glossary: Glossary) -> str:
    """The text as tokens joined by single spaces, with comparators, multiples of a lab limit and
    ranges spelled one way, so two spellings of one limit compare equal."""
    prefix_re, suffix_re, ops = _comparator_patterns(glossary)
    for spelling, op in _OPERATOR_SPELLINGS.items():
        text = text.replace(spelling, op)
    text = _MULTIPLIER.sub(r"\1 x ULN", text)
    text = suffix_re.sub(
        lambda m: f"{ops[m.group(3).casefold()]} {m.group(1)}{m.group(2) or ''}", text
    )
    text = prefix_re.sub(lambda m: f"{ops[m.group(1).casefold()]} ", text)
    text = _GRADE_FIRST.sub(r"\2 \1", text)
    return " ".join(_TOKEN.findall(_RANGE.sub(r"\1 to ", text)))


def negation_cues(text: str, glossary: Glossary) -> list[str]:
    """NegEx cues in reading order, pseudo-negations ("not only", "no change") left out."""
    cues, pseudo = _negation_patterns(glossary)
    lowered = pseudo.sub(lambda m: "_" * len(m.group(0)), text.casefold())
    return cues.findall(lowered)


def check(original: str, plain: str, glossary: Glossary) -> tuple[str, ...]:
    """Every way `plain` fails to say what `original` says; empty when it is faithful."""
    problems: list[str] = []
    if Counter(_NUMBER.findall(original)) != Counter(_NUMBER.findall(plain)):
        problems.append("numbers differ")
    if Counter(_IDENTIFIER.findall(original)) != Counter(_IDENTIFIER.findall(plain)):
        problems.append("gene, variant or version tokens differ")
    # Both sides are read back: a source that already says "pregnancy test (β-hCG)" is not
    # a rewrite of "β-hCG".
    source, restored = restore(original, glossary), restore(plain, glossary)
    if Counter(_CAPITALS.findall(source)) != Counter(_CAPITALS.findall(restored)):
        problems.append("capitalised names differ")
    was, now = canonical(source, glossary), canonical(restored, glossary)
    if _OPERATOR.findall(was) != _OPERATOR.findall(now):
        problems.append("comparators differ")
    if negation_cues(was, glossary) != negation_cues(now, glossary):
        problems.append("negations differ")
    if was.casefold() != now.casefold():
        problems.append("words differ once the plain wording is taken out")
    return tuple(problems)
