"""Does a plain-English rewrite still say what the trial wrote? The safety net, fail closed (pure).

A patient may decide whether to ask about a trial from one rewritten line, so a rewrite that
changes a number, flips "at least" into "more than", drops a "not" or respells BRAF V600E must
never be sent. This checker compares the original item and its rewrite on its own terms. It
does not know how the rewriter works; it knows only the packaged data (the glossary's plain
words, the plain phrases that stand for comparators, the negation cues).

A rewrite comes as pieces: text, and `Swap`s, plain words standing where the trial wrote other
words. The reader sees only the plain words (the original terms go to the "What these words
mean" list); the checker reads the rewrite twice:

- **put back**: every swap the glossary allows (its plain words are those of a term that lists
  the original words) is put back to the original words; a swap it does not allow stays plain
  and fails the word check. The text put back must read as the original word for word, up to
  case, spacing and the spelling of comparators, ranges and lab-limit multiples ("0-1" and
  "0 to 1" are the same; "≥ Grade 2" and "grade 2 or higher" are the same), with the same
  all-capital names (BRAF, ECOG), the same comparators in the same order and the same NegEx
  cues ("no", "not", "without", "negative for"…) in the same order;
- **as read**: what the reader sees must carry the same numbers, the same gene, variant, version
  and NCT tokens (any token with a capital letter and a digit: PD-1, V600E, RECIST1.1, V5.0,
  NCT01234567), the same comparators and the same negation cues — except a cue a glossary entry
  declares it adds ("without symptoms" for "asymptomatic") — and no word doubled that the
  original does not double ("allergic allergy").

Any difference is a problem; an item with a problem is shown as written. A needless fallback
costs a little readability, a missed one could cost a patient a trial.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from watcher.core.alternation import longest_first
from watcher.core.glossary import Glossary, Term
from watcher.core.readability import doubled_words

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
_OR = re.compile("or", re.IGNORECASE)  # every suffix phrase starts with "or "
_DIGIT = re.compile(r"\d")


@lru_cache(maxsize=8)
def _comparator_patterns(
    glossary: Glossary,
) -> tuple[re.Pattern[str], re.Pattern[str], dict[str, str]]:
    """Prefix phrases ("at least 3") and suffix phrases ("3 years or older"), longest first
    (`longest_first`: the same finds as the phrases in order of length, found faster)."""
    ops = dict(glossary.comparator_phrases)
    prefix = longest_first((p for p in ops if not p.startswith("or ")), ignore_case=True)
    suffix = longest_first((p for p in ops if p.startswith("or ")), ignore_case=True)
    prefix_re = re.compile(rf"\b({prefix})\b\s*", re.IGNORECASE)
    suffix_re = re.compile(
        rf"(\d+(?:[.,]\d+)*%?|\b[IVX]+\b)((?:\s+[A-Za-z]+){{0,3}}?)\s+({suffix})\b(?!\s+than)",
        re.IGNORECASE,
    )
    return prefix_re, suffix_re, {p.casefold(): op for p, op in ops.items()}


@dataclass(frozen=True, slots=True)
class Swap:
    """Plain words standing where the trial wrote `original`: the reader sees `plain`."""

    plain: str
    original: str


Piece = str | Swap


def reader_text(pieces: Iterable[Piece]) -> str:
    """What the reader sees of a rewrite: its text with the plain words of every swap."""
    return "".join(piece if isinstance(piece, str) else piece.plain for piece in pieces)


_ARTICLE = re.compile(r"(?:a|an)\s+", re.IGNORECASE)


@lru_cache(maxsize=8)
def _pairs(glossary: Glossary) -> dict[tuple[str, str], Term]:
    """(plain words, original words) → the term that allows the swap, both case-folded
    (abbreviations are matched exactly: eGFR is not EGFR)."""
    pairs: dict[tuple[str, str], Term] = {}
    for term in glossary.terms:
        if not term.replace:
            continue
        for plain in filter(None, (term.plain, term.plain_plural)):
            for phrase in term.phrases:
                pairs.setdefault((plain.casefold(), phrase.casefold()), term)
            for abbreviation in term.abbreviations:
                pairs.setdefault((plain.casefold(), abbreviation), term)
    return pairs


def allowed_term(swap: Swap, glossary: Glossary) -> Term | None:
    """The term whose plain words may stand for the swap's original words, or None.

    A leading "a"/"an" may travel with the words on both sides, so "an investigational drug"
    may read "a study drug".
    """
    plain, original = swap.plain, swap.original
    plain_article, original_article = _ARTICLE.match(plain), _ARTICLE.match(original)
    if bool(plain_article) != bool(original_article):
        return None
    if plain_article and original_article:
        plain, original = plain[plain_article.end() :], original[original_article.end() :]
    pairs = _pairs(glossary)
    return pairs.get((plain.casefold(), original)) or pairs.get(
        (plain.casefold(), original.casefold())
    )


def restore(pieces: Iterable[Piece], glossary: Glossary) -> str:
    """The rewrite with each swap the glossary allows put back to the original words.

    A swap the glossary does not allow stays plain, so it fails the word check.
    """
    return "".join(
        piece
        if isinstance(piece, str)
        else piece.original
        if allowed_term(piece, glossary)
        else piece.plain
        for piece in pieces
    )


def _read_for_negation(pieces: Iterable[Piece], glossary: Glossary) -> str:
    """What the reader sees, with the negation words a swap's entry declares it adds blanked."""
    out: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece)
            continue
        term = allowed_term(piece, glossary)
        words = piece.plain
        for cue in term.adds if term else ():
            words = re.sub(rf"(?<![\w-]){re.escape(cue)}(?![\w-])", " ", words, flags=re.I)
        out.append(words)
    return "".join(out)


@lru_cache(maxsize=8)
def _negation_patterns(glossary: Glossary) -> tuple[re.Pattern[str], re.Pattern[str]]:
    def words(phrases: tuple[str, ...]) -> re.Pattern[str]:
        return re.compile(rf"(?<![\w-])({longest_first(phrases)})(?![\w-])")

    return words(glossary.negation_cues), words(glossary.pseudo_negations)


def canonical(text: str, glossary: Glossary) -> str:
    """The text as tokens joined by single spaces, with comparators, multiples of a lab limit and
    ranges spelled one way, so two spellings of one limit compare equal."""
    prefix_re, suffix_re, ops = _comparator_patterns(glossary)
    for spelling, op in _OPERATOR_SPELLINGS.items():
        text = text.replace(spelling, op)
    # Each rewriting below is tried only on a text holding what its pattern cannot match
    # without (most texts hold no lab limit, no "or …" phrase, no comparator sign): the same
    # text, without searching it for nothing.
    if "ULN" in text or "LLN" in text:
        text = _MULTIPLIER.sub(r"\1 x ULN", text)
    if _OR.search(text):
        text = suffix_re.sub(
            lambda m: f"{ops[m.group(3).casefold()]} {m.group(1)}{m.group(2) or ''}", text
        )
    text = prefix_re.sub(lambda m: f"{ops[m.group(1).casefold()]} ", text)
    if "<" in text or ">" in text:
        text = _GRADE_FIRST.sub(r"\2 \1", text)
    if _DIGIT.search(text):
        text = _RANGE.sub(r"\1 to ", text)
    return " ".join(_TOKEN.findall(text))


def negation_cues(text: str, glossary: Glossary) -> list[str]:
    """NegEx cues in reading order, pseudo-negations ("not only", "no change") left out."""
    cues, pseudo = _negation_patterns(glossary)
    lowered = pseudo.sub(lambda m: "_" * len(m.group(0)), text.casefold())
    return cues.findall(lowered)


def check(original: str, rewrite: str | Sequence[Piece], glossary: Glossary) -> tuple[str, ...]:
    """Every way `rewrite` fails to say what `original` says; empty when it is faithful."""
    pieces: tuple[Piece, ...] = (rewrite,) if isinstance(rewrite, str) else tuple(rewrite)
    if pieces == (original,):
        return ()  # nothing rewritten: every reading below is of the original itself
    read = reader_text(pieces)
    problems: list[str] = []
    # The same tokens, as many times each, in any order: sorted, they are the same list.
    if sorted(_NUMBER.findall(original)) != sorted(_NUMBER.findall(read)):
        problems.append("numbers differ")
    if sorted(_IDENTIFIER.findall(original)) != sorted(_IDENTIFIER.findall(read)):
        problems.append("gene, variant or version tokens differ")
    restored = restore(pieces, glossary)
    if sorted(_CAPITALS.findall(original)) != sorted(_CAPITALS.findall(restored)):
        problems.append("capitalised names differ")
    # The four texts are often two (a rewrite restored is the original): each is read once.
    canonicals: dict[str, str] = {}
    cues_of: dict[str, list[str]] = {}

    def canon(text: str) -> str:
        if text not in canonicals:
            canonicals[text] = canonical(text, glossary)
        return canonicals[text]

    def cues_in(text: str) -> list[str]:
        if text not in cues_of:
            cues_of[text] = negation_cues(text, glossary)
        return cues_of[text]

    was, now = canon(original), canon(restored)
    as_read = canon(read)
    if not _OPERATOR.findall(was) == _OPERATOR.findall(now) == _OPERATOR.findall(as_read):
        problems.append("comparators differ")
    cues = cues_in(was)
    read_cues = cues_in(canon(_read_for_negation(pieces, glossary)))
    if not cues == cues_in(now) == read_cues:
        problems.append("negations differ")
    if was.casefold() != now.casefold():
        problems.append("words differ once the plain wording is taken out")
    doubled = doubled_words(read)
    if doubled and Counter(doubled) - Counter(doubled_words(original)):
        problems.append("a word is doubled")
    return tuple(problems)
