"""Eligibility criteria in plain English, by rules and a glossary, checked before use (pure).

(Over 400 lines on purpose: the rules below share one draft of claimed spans, and their order is
the rule; split apart, that order would be written in no single place.)

Each item is rewritten on its own, in a fixed order, and every rule claims the span of text it
rewrites so a later rule cannot rewrite it again:

1. protect what must reach the reader exactly as written: gene and variant tokens (BRAF V600E,
   PD-1, CTLA-4, COVID-19: any token with a capital letter and a digit), version strings
   (RECIST1.1, CTCAE V5.0, v1.1), NCT IDs, dates, ratios and powers of ten (10^9/L);
2. scales as one unit, so the number never leaves its scale (the "ECOG 0)-1" bug):
   "ECOG performance status 0-1" → "daily-activity score (ECOG performance status) 0 to 1",
   "ECOG PS ≤1" → "… 1 or lower", and Karnofsky the same way;
3. grades and classes: "grade ≤1" → "grade 1 or lower", "≥ Grade 2" → "Grade 2 or higher";
4. ages, only where the phrase is surely an age (after "aged", "patients"… and ending there, or
   followed by "old" / "of age"): "aged ≥18 years" → "aged 18 years or older", "> 16 years of
   age" → "older than 16 years of age"; "Patients < 12 years from diagnosis" is a time, and
   reads "less than 12 years from diagnosis";
5. multiples of a lab limit: "2.5 x ULN" → "2.5 times the upper limit of normal (ULN)";
6. other comparators: ">" more than, "≥" at least, "<" less than, "≤" no more than;
7. ranges: "18-75" → "18 to 75" (never inside a protected token such as PD-1 or COVID-19);
8. glossary terms, longest match first: the first time a term appears in a notification it is
   written "plain words (ORIGINAL)". Where that would not read as English (the term is inside
   parentheses, already followed by its abbreviation in parentheses, after "a"/"an", or in the
   middle of a longer noun phrase), the words stay as written and only the meaning is listed.
   Abbreviations the glossary does not know are left alone: a guessed expansion can be wrong.
   Everyday words ("prior" → "earlier (prior)") are written the same way, but in every item
   they appear in, not once per notification, because a changed item is often read alone;
   they may sit inside a noun phrase ("earlier (prior) treatment"), and have nothing to list.

Every rewrite then goes through `fidelity.check`; an item that fails is shown as written
with the marker " (shown as written)", and its terms are not listed.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from watcher.core.criteria import normalise, parse_criteria
from watcher.core.fidelity import check
from watcher.core.glossary import Glossary, GlossaryHit, Term

SHOWN_AS_WRITTEN = " (shown as written)"

_OP = r"(?:>=|<=|=>|=<|≥|≤|>|<)"
_OPS = {">": ">", "≥": ">=", ">=": ">=", "=>": ">=", "<": "<", "≤": "<=", "<=": "<=", "=<": "<="}
_PREFIX = {">": "more than", ">=": "at least", "<": "less than", "<=": "no more than"}
_SCALE_VALUE = {
    ">=": "{n} or higher",
    "<=": "{n} or lower",
    ">": "higher than {n}",
    "<": "lower than {n}",
}
_AGE = {
    ">=": "{n}{unit} or older",
    "<=": "{n}{unit} or younger",
    ">": "older than {n}{unit}",
    "<": "younger than {n}{unit}",
}
_NUM = r"\d+(?:[.,]\d+)*"
_DASH = r"(?:-|\u2013|\u2014|~)"  # hyphen, en dash, em dash, tilde

_PROTECT = re.compile(
    "|".join(
        (
            r"\bNCT\d{8}\b",
            r"(?<![\w-])(?=[\w.-]*\d)(?=[\w.-]*[A-Z])\w+(?:[.-]\w+)*",  # PD-1, V600E, RECIST1.1
            r"\b[Vv](?:ersion)?\s?\d+(?:\.\d+)+\b",  # v1.1, version 5.0
            r"\b\d+(?:[-/.]\d+){2,}\b",  # dates, phone numbers
            r"\b\d+:\d+\b",  # 1:1
            r"\d+\s*\^\s*-?\d+|10[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+",  # 10^9/L, 10⁹/L
        )
    )
)

_ECOG = re.compile(
    r"(?P<name>(?:Eastern Cooperative Oncology Group(?: \(ECOG\))?|ECOG|WHO|Zubrod)"
    r"(?:/(?:ECOG|WHO))?"
    r"(?: (?:[Pp]erformance [Ss]tatus|[Pp]erformance [Ss]core|PS|[Ss]core|[Ss]tatus))?"
    r"(?: \((?:ECOG )?PS\))?)"
    r"(?P<link>(?: [Ss]core)?(?: (?:of|is|was|must be|=))?:? ?)"
    rf"(?P<value>(?P<op>{_OP}) ?(?P<n>\d)|(?P<a>\d) ?{_DASH} ?(?P<b>\d)"
    r"|\d(?:, \d)*,? (?:or|and) \d)(?![\d.%])"
)
_KARNOFSKY = re.compile(
    r"(?P<name>(?:Karnofsky|Lansky|KPS)"
    r"(?: (?:[Pp]erformance |[Pp]lay )?(?:[Ss]tatus|[Ss]core|[Ss]cale))?(?: \((?:KPS|PS)\))?)"
    r"(?P<link>(?: [Ss]core)?(?: (?:of|is|was|must be))?:? ?)"
    rf"(?P<value>(?P<op>{_OP}) ?(?P<n>\d+%?)|(?P<a>\d+%?) ?{_DASH} ?(?P<b>\d+%?))(?![\d.])"
)
_LEVEL_WORD = r"\b(?:[Gg]rade|GRADE|[Cc]lass|CLASS)"
_LEVEL = r"(?:\d+|IV|V|I{1,3})"
_GRADE = re.compile(
    rf"(?:(?P<word>{_LEVEL_WORD}) ?(?P<op>{_OP}) ?(?P<n>{_LEVEL})"
    rf"|(?P<op2>{_OP}) ?(?P<word2>{_LEVEL_WORD}) ?(?P<n2>{_LEVEL}))\b(?![.,]\d)"
)
_AGE_CONTEXT = (
    r"(?:\b(?:[Aa]ged?|[Aa]ges|[Aa]dults?|[Pp]articipants?|[Pp]atients?|[Ss]ubjects?|[Mm]en|"
    r"[Ww]omen|[Mm]ales?|[Ff]emales?|[Cc]hildren|[Pp]ersons?|[Pp]eople|[Ii]ndividuals?|"
    r"[Vv]olunteers?)(?: (?:is|are|must be|of|who are))? ?:? ?)"
)
_AGE_UNIT = r"(?: ?(?:years?|yrs?|months?))"
# An age ends the phrase: "Patients < 12 years from diagnosis" is a time, not an age.
_NOTHING_MORE = r"(?![\w.,%]| ?[A-Za-z/])"
_AGE_RULE = re.compile(
    rf"(?P<ctx>{_AGE_CONTEXT})(?P<op>{_OP}) ?(?P<n>{_NUM})"
    rf"(?P<unit>{_AGE_UNIT})?(?:(?P<tail> old| of age)\b|{_NOTHING_MORE})"
    rf"|(?P<op2>{_OP}) ?(?P<n2>{_NUM})(?P<unit2>{_AGE_UNIT})(?P<tail2> old| of age)\b"
)
_MULTIPLE = re.compile(rf"(?P<n>{_NUM}) ?(?:x|X|\u00d7|\*) ?(?P<limit>ULN|LLN)\b")
_LIMITS = {"ULN": "upper limit of normal", "LLN": "lower limit of normal"}
_COMPARATOR = re.compile(rf"(?<![-=<>])(?P<op>{_OP})(?![=<>])\s*")
_RANGE = re.compile(rf"(?<![\w.\-/^])(?P<a>{_NUM}) ?{_DASH} ?(?P<b>{_NUM})(?![\w-])(?!\.\d)")
# Words after which a glossary term still ends its noun phrase, so "plain (TERM)" reads well.
_PHRASE_ENDERS = frozenset(
    (
        *("of", "in", "and", "or", "with", "for", "to", "at", "by", "within", "before", "after"),
        *("is", "are", "was", "were", "must", "should", "will", "that", "which", "as", "per"),
        *("from", "than", "on", "if", "who", "whose", "unless", "except", "including", "such"),
        *("be", "has", "have", "had", "not", "nor", "but", "during", "while", "due"),
    )
)
_GLUED = frozenset("([" + string.ascii_letters + string.digits)
_ARTICLE = re.compile(r"(?:^|\s)(?:a|an|A|An)\s+$")
_CTCAE_CONTEXT = re.compile(r"CTCAE|Common Terminology|toxicit|adverse|side effect", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Rewrite:
    """One item's rewrite: what to show, the terms to explain, and why it fell back if it did."""

    original: str
    plain: str
    shown_as_written: bool
    terms: tuple[GlossaryHit, ...]
    problems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PlainItem:
    """An eligibility item ready to show: where it sits, as written, and in plain English.

    `plain` is exactly what to show: the faithful rewrite, or the original followed by
    " (shown as written)" when the rewrite failed a fidelity check (`shown_as_written`).
    """

    section: str
    original: str
    plain: str
    shown_as_written: bool
    depth: int
    parent: str | None
    terms: tuple[GlossaryHit, ...]
    label: str


@dataclass(frozen=True, slots=True)
class _Edit:
    start: int
    end: int
    text: str


@dataclass(slots=True)
class _Draft:
    """The spans claimed so far in one item, and the terms explained so far."""

    text: str
    seen: set[str]
    protected: list[tuple[int, int]]
    edits: list[_Edit]
    hits: list[GlossaryHit]

    def free(self, start: int, end: int, *, may_wrap_protected: bool = False) -> bool:
        if any(start < e.end and e.start < end for e in self.edits):
            return False
        return all(
            end <= p_start
            or p_end <= start
            or (may_wrap_protected and start <= p_start and p_end <= end)
            for p_start, p_end in self.protected
        )

    def claim(self, start: int, end: int, text: str) -> None:
        self.edits.append(_Edit(start, end, text))

    def explain(
        self, term: Term | None, written: str, levels: Iterable[tuple[str, str]] = ()
    ) -> None:
        if term is not None and term.id not in self.seen:
            self.seen.add(term.id)
            hit = GlossaryHit(term.id, written, term.meaning, tuple(levels), term.everyday)
            self.hits.append(hit)


@lru_cache(maxsize=8)
def _aliases(glossary: Glossary) -> tuple[dict[str, Term], dict[str, Term], re.Pattern[str]]:
    """Phrase (case-folded) → term, abbreviation → term, and one pattern finding all of them."""
    phrases: dict[str, Term] = {}
    abbreviations: dict[str, Term] = {}
    for term in glossary.terms:
        for phrase in term.phrases:
            phrases.setdefault(phrase.casefold(), term)
        for abbreviation in term.abbreviations:
            abbreviations.setdefault(abbreviation, term)
    alternatives = [(p, f"(?i:{re.escape(p)})") for p in phrases]
    alternatives += [(a, re.escape(a)) for a in abbreviations]
    alternatives.sort(key=lambda pair: len(pair[0]), reverse=True)
    body = "|".join(regex for _, regex in alternatives)
    # A lookahead finds a candidate at every position, overlapping ones included, so the
    # longest candidate anywhere can be preferred over an earlier, shorter one.
    pattern = re.compile(rf"(?<![\w-])(?=({body})(?![\w-]))")
    return phrases, abbreviations, pattern


def _term_for(glossary: Glossary, written: str) -> Term | None:
    phrases, abbreviations, _ = _aliases(glossary)
    return abbreviations.get(written) or phrases.get(written.casefold())


def _inside_parentheses(text: str, start: int) -> bool:
    before = text[:start]
    return before.count("(") > before.count(")")


def _reads_as_noun(text: str, start: int, end: int, plain: str) -> bool:
    """Whether "plain (TERM)" can stand where TERM stands and says more than TERM alone."""
    written = text[start:end]
    if plain.casefold() in written.casefold():  # "pregnancy test (urine pregnancy test)"
        return False
    if _inside_parentheses(text, start) or "(" in written:
        return False
    if _ARTICLE.search(text[:start]):
        return False
    after = text[end:].lstrip()
    if after.startswith("("):
        return False
    following = re.match(r"[A-Za-z][\w-]*", after)
    return following is None or following.group(0) in _PHRASE_ENDERS


def _fits_in_place(text: str, start: int, end: int) -> bool:
    """Whether an everyday word can be swapped in: inside a noun phrase is fine, but not inside
    parentheses, after "a"/"an" (the article may no longer fit), before a possessive "'s", or
    where the trial already glosses the word."""
    after = text[end:].lstrip()
    return not (
        _inside_parentheses(text, start)
        or _ARTICLE.search(text[:start])
        or after.startswith(("(", "'", "\u2019"))
    )


def _cased(plain: str, written: str) -> str:
    """A capitalised word ("Participants" starting a sentence) gets a capitalised plain word;
    an abbreviation (all capitals) says nothing about the sentence, so it changes nothing."""
    if written[:1].isupper() and not written[1:2].isupper():
        return plain[:1].upper() + plain[1:]
    return plain


def _plain_for(term: Term, written: str) -> str:
    plural = written.endswith("s") and not written.endswith(("ss", "us", "is"))
    return term.plain_plural if plural and term.plain_plural else term.plain


def _levels(
    glossary: Glossary, scale: str, op: str | None, numbers: list[int], top: int
) -> list[tuple[str, str]]:
    """Plain meaning of the scale levels an expression names ("≤1" names 0 and 1 on ECOG)."""
    known = glossary.levels(scale) if scale in dict(glossary.scales) else {}
    if not known or not numbers:
        return []
    low = min(int(k) for k in known)
    if op is None:
        wanted: Iterable[int] = numbers
    else:
        n = numbers[0]
        wanted = {
            ">=": range(n, top + 1),
            ">": range(n + 1, top + 1),
            "<=": range(low, n + 1),
            "<": range(low, n),
        }[op]
    return [(str(level), known[str(level)]) for level in wanted if str(level) in known]


def _protect(draft: _Draft) -> None:
    draft.protected = [m.span() for m in _PROTECT.finditer(draft.text)]


def _scale_value(match: re.Match[str]) -> tuple[str, str | None, list[int]]:
    """The value as plain words, its comparator, and the levels it names."""
    if match.group("op"):
        op = _OPS[match.group("op")]
        n = match.group("n")
        return _SCALE_VALUE[op].format(n=n), op, [int(n.rstrip("%"))]
    if match.group("a"):
        a, b = match.group("a"), match.group("b")
        return f"{a} to {b}", None, list(range(int(a.rstrip("%")), int(b.rstrip("%")) + 1))
    value = match.group("value")  # "0 or 1", "0, 1, or 2": already plain
    return value, None, [int(n) for n in re.findall(r"\d+", value)]


# The glossary term that explains each scale: WHO and Zubrod name the ECOG scale; Lansky is a
# different scale (for children), so it gets no explanation rather than the Karnofsky one.
_SCALES = ((_ECOG, "ecog", "ECOG", 5), (_KARNOFSKY, "karnofsky", "KPS", 100))


def _scales(draft: _Draft, glossary: Glossary) -> None:
    for pattern, scale, abbreviation, top in _SCALES:
        for match in pattern.finditer(draft.text):
            start, end = match.span()
            if not draft.free(start, end):
                continue
            name = match.group("name")
            term = None if name.startswith("Lansky") else _term_for(glossary, abbreviation)
            value, op, numbers = _scale_value(match)
            written = name
            if (
                term is not None
                and term.replace
                and term.id not in draft.seen
                and _term_for(glossary, name) is term
                and "(" not in name
                and not _inside_parentheses(draft.text, start)
                and not _ARTICLE.search(draft.text[:start])
            ):
                written = f"{term.plain} ({name})"
            levels = _levels(glossary, scale, op, numbers, top) if scale == "ecog" else []
            draft.explain(term, name, levels)
            draft.claim(start, end, f"{written}{match.group('link')}{value}")


def _grades(draft: _Draft, glossary: Glossary) -> None:
    ctcae = _term_for(glossary, "CTCAE") if _CTCAE_CONTEXT.search(draft.text) else None
    for match in _GRADE.finditer(draft.text):
        start, end = match.span()
        if not draft.free(start, end):
            continue
        word = match.group("word") or match.group("word2")
        op = _OPS[match.group("op") or match.group("op2")]
        n = match.group("n") or match.group("n2")
        draft.claim(start, end, f"{word} {_SCALE_VALUE[op].format(n=n)}")
        if ctcae is not None and n.isdigit() and word.lower() == "grade":
            levels = _levels(glossary, "ctcae_grade", op, [int(n)], 5)
            draft.explain(ctcae, "CTCAE", levels)


def _ages(draft: _Draft) -> None:
    for match in _AGE_RULE.finditer(draft.text):
        start, end = match.span()
        if not draft.free(start, end):
            continue
        op = _OPS[match.group("op") or match.group("op2")]
        n = match.group("n") or match.group("n2")
        unit = (match.group("unit") or match.group("unit2") or "").strip()
        tail = match.group("tail") or match.group("tail2") or ""
        words = _AGE[op].format(n=n, unit=f" {unit}{tail}" if unit else tail)
        context = match.group("ctx") or ""
        if context and not context[-1].isspace():
            context += " "  # "Age≥18 years" reads "Age 18 years or older"
        draft.claim(start, end, f"{context}{words}")


def _multiples(draft: _Draft, glossary: Glossary) -> None:
    for match in _MULTIPLE.finditer(draft.text):
        start, end = match.span()
        limit = match.group("limit")
        if draft.free(start, end, may_wrap_protected=True):
            draft.claim(start, end, f"{match.group('n')} times the {_LIMITS[limit]} ({limit})")
            draft.explain(_term_for(glossary, limit), limit)


def _comparators(draft: _Draft) -> None:
    text = draft.text
    for match in _COMPARATOR.finditer(text):
        start, end = match.span()
        if not draft.free(start, end):
            continue
        before_op, after_op = text[start - 1 : start], text[end : end + 1]
        if before_op and after_op and before_op in "([" and after_op in ")]":
            continue  # "greater than (>) 1": the symbol only restates the words before it
        words = _PREFIX[_OPS[match.group("op")]]
        before = (
            " "
            if start > 0 and not text[start - 1].isspace() and text[start - 1] not in "(["
            else ""
        )
        after = " " if end < len(text) and text[end] not in ")]" else ""
        draft.claim(start, end, f"{before}{words}{after}")


def _ranges(draft: _Draft) -> None:
    for match in _RANGE.finditer(draft.text):
        start, end = match.span()
        if draft.free(start, end):
            draft.claim(start, end, f"{match.group('a')} to {match.group('b')}")


def _terms(draft: _Draft, glossary: Glossary) -> None:
    _, _, pattern = _aliases(glossary)
    text = draft.text
    candidates = sorted(
        ((m.start(), m.start() + len(m.group(1))) for m in pattern.finditer(text)),
        key=lambda span: (span[0] - span[1], span[0]),
    )
    chosen: list[tuple[int, int]] = []
    for start, end in candidates:
        if draft.free(start, end, may_wrap_protected=True) and not any(
            start < c_end and c_start < end for c_start, c_end in chosen
        ):
            chosen.append((start, end))
    for start, end in sorted(chosen):
        written = text[start:end]
        term = _term_for(glossary, written)
        if term is None or term.id in draft.seen:
            continue
        plain = _cased(_plain_for(term, written), written)
        if term.everyday:
            if _fits_in_place(text, start, end):
                draft.claim(start, end, f"{plain} ({written})")
                draft.explain(term, written)
            continue
        if term.replace and _reads_as_noun(text, start, end, plain):
            draft.claim(start, end, f"{plain} ({written})")
        draft.explain(term, written)


def _assemble(text: str, edits: list[_Edit]) -> str:
    out: list[str] = []
    position = 0
    for edit in sorted(edits, key=lambda e: e.start):
        out.append(text[position : edit.start])
        out.append(edit.text)
        position = edit.end
        if edit.text[-1:].isalnum() and (text[position : position + 1] or " ")[0] in _GLUED:
            out.append(" ")  # "grade ≤1(CTCAE" reads "grade 1 or lower (CTCAE"
    out.append(text[position:])
    plain = "".join(out)
    if any(edit.start == 0 for edit in edits) and plain[:1].islower():
        plain = plain[0].upper() + plain[1:]
    return plain


def rewrite_item(text: str, glossary: Glossary, seen: frozenset[str] = frozenset()) -> Rewrite:
    """One criterion in plain English, or as written when the rewrite fails a fidelity check.

    `text` may be raw registry text: it is normalised first (`watcher.core.criteria.normalise`,
    whitespace collapsed), and `original` is that normalised text. `seen` holds the ids of terms
    already explained earlier in the same notification: they are neither rewritten nor listed.
    """
    return _rewrite(" ".join(normalise(text).split()), glossary, seen)


def _rewrite(text: str, glossary: Glossary, seen: frozenset[str]) -> Rewrite:
    draft = _Draft(text, set(seen), [], [], [])
    _protect(draft)
    _scales(draft, glossary)
    _grades(draft, glossary)
    _ages(draft)
    _multiples(draft, glossary)
    _comparators(draft)
    _ranges(draft)
    _terms(draft, glossary)
    plain = _assemble(text, draft.edits)
    problems = check(text, plain, glossary)
    if problems:
        return Rewrite(text, text + SHOWN_AS_WRITTEN, True, (), problems)
    return Rewrite(text, plain, False, tuple(draft.hits), ())


def rewrite_criteria(text: str | None, glossary: Glossary) -> list[PlainItem]:
    """Every eligibility item in plain English, each term explained once, in document order."""
    seen: frozenset[str] = frozenset()
    items: list[PlainItem] = []
    for criterion in parse_criteria(text):
        result = _rewrite(criterion.text, glossary, seen)  # parsing has normalised it
        seen |= {hit.id for hit in result.terms if not hit.everyday}
        items.append(
            PlainItem(
                section=criterion.section,
                original=criterion.text,
                plain=result.plain,
                shown_as_written=result.shown_as_written,
                depth=criterion.depth,
                parent=criterion.parent,
                terms=result.terms,
                label=criterion.label,
            )
        )
    return items


def reading_text(item: PlainItem) -> str:
    """What a patient reads of an item: the original words kept in parentheses after the plain
    ones are there for reference (and for the fidelity check), so they are left out.

    This is the text the readability target is measured on (`bench/plain_english.py`); an
    item shown as written is read as written.
    """
    if item.shown_as_written:
        return item.original
    text = item.plain
    for hit in item.terms:
        wrapped = f" ({hit.term})"
        if text.count(wrapped) > item.original.count(wrapped):
            text = text.replace(wrapped, "", 1)
    return text
