"""An independent reading of a plain-English rewrite: what did it change of the original?

The rewriter checks itself with `watcher.core.fidelity` before anything is sent; a test that
re-ran that same check could never fail. This oracle shares no code or table with it, so the
tests that use it can catch a rewrite the built-in check wrongly let through.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

# These oracles know nothing of `watcher.core.fidelity`: their own tables, read on both sides.
# Longest first, so "no more than" is one comparator and not a negation plus "more than";
# "or more than 200" is "or" and "more than", not "or more".
ORACLE_COMPARATORS = {
    **dict.fromkeys(("≥", ">=", "=>", "at least", "or older", "or higher"), ">="),
    **dict.fromkeys(("or more", "or greater"), ">="),
    **dict.fromkeys(("≤", "<=", "=<", "no more than", "or lower", "or younger", "or less"), "<="),
    **dict.fromkeys((">", "more than", "older than", "higher than", "greater than"), ">"),
    **dict.fromkeys(("<", "less than", "younger than", "lower than"), "<"),
}
_ORACLE_COMPARATOR = re.compile(
    "|".join(
        rf"(?<![\w-]){re.escape(p)}(?![\w-])(?!\s+than)" if p[0].isalpha() else re.escape(p)
        for p in sorted(ORACLE_COMPARATORS, key=len, reverse=True)
    ),
    re.IGNORECASE,
)
ORACLE_NEGATIONS = ("not", "no", "without", "cannot", "never", "none", "nor", "neither", "n't")
_ORACLE_NEGATION = re.compile(r"n't|(?<![\w-])(?:not|no|without|cannot|never|none|nor|neither)\b")
_ORACLE_IDENTIFIER = re.compile(r"[A-Za-z0-9]+(?:[-.][A-Za-z0-9]+)*")
_CAPITALS = re.compile(r"[A-Z]{2,}$")
_ORACLE_RANGE = re.compile(r"(?<=\d)\s*(?:-|\u2013|\u2014|~|to)\s*(?=\d)")
_ORACLE_LIMIT = re.compile(
    r"(?:x|X|\u00d7|\*|times the (?:upper|lower) limit of normal)\s*\(?(ULN|LLN)\)?"
)


def _unwrapped(plain: str, terms: Iterable[Any]) -> str:
    """`plain` with each listed term's "plain words (TERM)" put back to TERM, so the glossary's
    own words ("cannot be removed … (unresectable)") are not read as the trial's."""
    from watcher.data import load_glossary

    glossary = load_glossary()
    for hit in terms:
        term = glossary.term(hit.id)
        for words in filter(None, (term.plain, term.plain_plural)):
            wrapped = re.compile(rf"{re.escape(words)} \({re.escape(hit.term)}\)", re.IGNORECASE)
            plain = wrapped.sub(hit.term.replace("\\", r"\\"), plain)
    return plain


def oracle_problems(original: str, plain: str, terms: Iterable[Any] = ()) -> list[str]:
    """What an independent reading finds changed between an item and the rewrite sent for it:
    the digits, the comparators (symbol or phrase, by this file's table), the negation words,
    the names (PD-1, V600E, NCT01234567, BRAF: a digit or all capitals), and the other words
    once the glossary's plain words, comparators, ranges and lab-limit multiples are read back."""
    terms = tuple(terms)
    read = _unwrapped(plain, terms)
    problems: list[str] = []
    if Counter(re.findall(r"\d+", original)) != Counter(re.findall(r"\d+", plain)):
        problems.append("digits")

    def comparators(text: str) -> Counter[str]:
        return Counter(
            ORACLE_COMPARATORS[m.group(0).casefold()] for m in _ORACLE_COMPARATOR.finditer(text)
        )

    if comparators(original) != comparators(read):
        problems.append("comparators")

    def negations(text: str) -> int:
        return len(_ORACLE_NEGATION.findall(_ORACLE_COMPARATOR.sub(" ", text.casefold())))

    if negations(original) != negations(read):
        problems.append("negations")

    def names(text: str) -> Counter[str]:
        tokens = _ORACLE_IDENTIFIER.findall(text)
        return Counter(
            t
            for t in tokens
            if any(c.isupper() for c in t) and (any(c.isdigit() for c in t) or _CAPITALS.match(t))
        )

    if names(original) != names(read):
        problems.append("names")

    def words(text: str) -> Counter[str]:
        text = _ORACLE_LIMIT.sub(r"\1", _ORACLE_COMPARATOR.sub(" ", text))
        return Counter(re.findall(r"[^\W\d_]+", _ORACLE_RANGE.sub(" ", text).casefold()))

    # A source that already reads "hepatitis B (HBV)" is read back the same way as the rewrite.
    if words(_unwrapped(original, terms)) != words(read):
        problems.append("words")
    return problems
