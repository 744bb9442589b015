"""Eligibility criteria in plain English, by rules and a glossary, checked before use (pure).

(Over 400 lines on purpose: the rules below share one draft of claimed spans, and their order is
the rule; split apart, that order would be written in no single place.)

Each item is rewritten on its own, in a fixed order, and every rule claims the span of text it
rewrites so a later rule cannot rewrite it again:

1. protect what must reach the reader exactly as written: gene and variant tokens (BRAF V600E,
   PD-1, CTLA-4, COVID-19: any token with a capital letter and a digit), version strings
   (RECIST1.1, CTCAE V5.0, v1.1), NCT IDs, dates, ratios and powers of ten (10^9/L);
2. scales as one unit, so the number never leaves its scale (the "ECOG 0)-1" bug):
   "ECOG performance status 0-1" → "activity score 0 to 1" (the glossary's plain words),
   "ECOG PS ≤1" → "… 1 or lower", and Karnofsky the same way;
3. grades and classes: "grade ≤1" → "grade 1 or lower", "≥ Grade 2" → "Grade 2 or higher";
4. ages, only where the phrase is surely an age (after "aged", "patients"… and ending there, or
   followed by "old" / "of age"): "aged ≥18 years" → "aged 18 years or older", "> 16 years of
   age" → "older than 16 years of age"; "Patients < 12 years from diagnosis" is a time, and
   reads "less than 12 years from diagnosis";
5. multiples of a lab limit: "2.5 x ULN" → "2.5 times the" and the limit's plain words;
6. other comparators: ">" more than, "≥" at least, "<" less than, "≤" no more than;
7. ranges: "18-75" → "18 to 75" (never inside a protected token such as PD-1 or COVID-19);
8. glossary terms, longest match first: the term's words are replaced by its plain words,
   wherever they occur, and the term is listed once per notification, with its meaning, under
   "What these words mean" (so a patient can still show the doctor the exact term). The plain
   words stand alone in the running text; the original terms are never written beside them.
   Words are kept as written where plain words would not read as English or would say
   something else: in the middle of a noun phrase when the plain words are long or a clause,
   inside a capitalised name ("Female Enrollment Form", "Principal Investigator"), glued to a
   letter or an apostrophe ("participant's", "participant(s)"), or where a word would be
   doubled ("allergic allergy", "liver liver scarring"). After "a"/"an" the article is fixed to
   fit the plain words. Abbreviations the glossary does not know are left alone: a guessed
   expansion can be wrong. Everyday words ("prior" → "before") have nothing to list.

Every rewrite then goes through `fidelity.check`, which reads the swaps back; an item that fails
is shown as written with the marker " (shown as written)", and its terms are not listed. Last,
each item is split into the units a reader takes in one go (`watcher.core.units`).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache

from watcher.core.alternation import longest_first
from watcher.core.criteria import normalise, parse_criteria
from watcher.core.fidelity import Piece, Swap, check, reader_text
from watcher.core.glossary import Glossary, GlossaryHit, Term
from watcher.core.units import split_units

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
    """One item's rewrite: what to show, the terms to explain, and why it fell back if it did.

    `plain` is what the reader reads: its `units` joined by line breaks. `pieces` is the same
    text with each swap of plain words for the trial's words marked, as the checker read it.
    """

    original: str
    plain: str
    shown_as_written: bool
    terms: tuple[GlossaryHit, ...]
    problems: tuple[str, ...]
    units: tuple[str, ...] = ()
    pieces: tuple[Piece, ...] = ()


@dataclass(frozen=True, slots=True)
class PlainItem:
    """An eligibility item ready to show: where it sits, as written, and in plain English.

    `plain` is exactly what to show: the faithful rewrite, or the original followed by
    " (shown as written)" when the rewrite failed a fidelity check (`shown_as_written`); its
    `units` (sentences, clauses, list members) are joined by line breaks.
    """

    section: str
    original: str
    plain: str
    shown_as_written: bool
    depth: int
    parent: str | None
    terms: tuple[GlossaryHit, ...]
    label: str
    units: tuple[str, ...] = ()
    pieces: tuple[Piece, ...] = ()


@dataclass(frozen=True, slots=True)
class _Edit:
    start: int
    end: int
    pieces: tuple[Piece, ...]


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

    def claim(self, start: int, end: int, *pieces: Piece) -> None:
        self.edits.append(_Edit(start, end, pieces))

    def explain(
        self,
        term: Term | None,
        written: str,
        levels: Iterable[tuple[str, str]] = (),
        plain: str = "",
    ) -> None:
        if term is not None and term.id not in self.seen:
            self.seen.add(term.id)
            hit = GlossaryHit(term.id, written, term.meaning, tuple(levels), term.everyday, plain)
            self.hits.append(hit)


class _AliasFinder:
    r"""Where a glossary alias is written: at each place a word starts, the longest alias that
    ends at a word's end there.

    It is what one pattern over every alias, longest first, tried at every place, would find
    (`(?<![\w-])(?=(longest|…|shortest)(?![\w-]))`), written as a trie (`longest_first`): a
    thousand alternatives tried one by one at every word made this the costliest step of
    planning a release. Phrases match in either case, abbreviations as written: two patterns,
    the longer of their finds kept.
    """

    def __init__(self, phrases: Iterable[str], abbreviations: Iterable[str]) -> None:
        """`phrases` case-folded, matched in any case; `abbreviations` matched as written."""
        alternations = (
            (longest_first(phrases, ignore_case=True), "(?i:{})"),
            (longest_first(abbreviations), "{}"),
        )
        self._patterns = tuple(
            re.compile(rf"(?<![\w-])(?=({form.format(body)})(?![\w-]))")
            for body, form in alternations
            if body
        )

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of the longest alias starting at each place a word starts in `text`."""
        ends: dict[int, int] = {}
        for pattern in self._patterns:
            for found in pattern.finditer(text):
                start = found.start()
                ends[start] = max(ends.get(start, start), found.end(1))
        return sorted(ends.items())


@lru_cache(maxsize=8)
def _aliases(glossary: Glossary) -> tuple[dict[str, Term], dict[str, Term], _AliasFinder]:
    """Phrase (case-folded) → term, abbreviation → term, and a finder of all of them."""
    phrases: dict[str, Term] = {}
    abbreviations: dict[str, Term] = {}
    for term in glossary.terms:
        for phrase in term.phrases:
            phrases.setdefault(phrase.casefold(), term)
        for abbreviation in term.abbreviations:
            abbreviations.setdefault(abbreviation, term)
    return phrases, abbreviations, _AliasFinder(phrases, abbreviations)


def _term_for(glossary: Glossary, written: str) -> Term | None:
    phrases, abbreviations, _ = _aliases(glossary)
    return abbreviations.get(written) or phrases.get(written.casefold())


def _inside_parentheses(text: str, start: int) -> bool:
    before = text[:start]
    return before.count("(") > before.count(")")


def _fits_here(text: str, start: int, end: int, plain: str) -> bool:
    """Whether a replace term's plain words can stand where the term stands: the trial does not
    gloss the term itself, the plain words are not narrower ("pregnancy test" for "urine
    pregnancy test"), and either the term ends its noun phrase or the plain words are a short
    modifier that can stand before the next word ("medically important heart disease", not
    "lung disease that causes scarring treatment"). After an adverb only a short modifier fits
    ("radiographically measurable disease" keeps its words)."""
    written = text[start:end].casefold()
    if plain.casefold() in written and not written.endswith(f"({plain.casefold()})"):
        return False  # narrower, unless the trial's own abbreviation: "… virus (HIV)" → "HIV"
    after = text[end:].lstrip()
    if after.startswith("("):
        return False
    words = plain.casefold().split()
    short = len(words) <= _MODIFIER_WORDS and not _CLAUSE_WORDS.intersection(words)
    if _word_before(text, start).endswith("ly") and not short:
        return False  # "radiographically measurable disease": an adverb needs a modifier
    following = re.match(r"[A-Za-z][\w-]*", after)
    return following is None or following.group(0) in _PHRASE_ENDERS or short


_MODIFIER_WORDS = 4
_CLAUSE_WORDS = frozenset(
    ("that", "which", "who", "of", "in", "with", "to", "for", "from", "by", "on", "at")
)


def _word_before(text: str, start: int) -> str:
    r"""The letters ending the last word before `start` ("" when it ends in a digit or "_"):
    what `([^\W\d_]+)[^\w]*$` finds in `text[:start]`, read backwards from `start` instead of
    searched for from the item's first character, for every term in it."""
    end = start
    while end and not (text[end - 1].isalnum() or text[end - 1] == "_"):
        end -= 1
    begin = end
    while begin and text[begin - 1].isalnum() and not text[begin - 1].isdecimal():
        begin -= 1
    return text[begin:end]


def _word_after(text: str, end: int) -> str:
    found = _WORD_AFTER.match(text, end)
    return found.group(1) if found else ""


_WORD_AFTER = re.compile(r"[^\w]*([^\W\d_]+)")


def _same_word(a: str, b: str) -> bool:
    """ "liver"/"liver", "allergic"/"allergy": the same word or the same stem."""
    a, b = a.casefold(), b.casefold()
    return bool(a) and (a == b or (len(a) >= _STEM and len(b) >= _STEM and a[:_STEM] == b[:_STEM]))


_STEM = 5


def _may_swap(text: str, start: int, end: int, plain: str) -> bool:
    """Whether plain words can replace the written ones here without breaking the sentence or
    writing a word twice: not the trial's own abbreviation in parentheses ("(HCC)"), not glued
    to an apostrophe, "(s)" or a slash, not inside a capitalised name ("Informed Consent
    Form"), and not next to the same word ("allergic allergy", "treatment treatment plan")."""
    written = text[start:end]
    if text[start - 1 : start] + text[end : end + 1] in ("()", "[]"):
        return False
    if text[end : end + 1] in ("(", "'", "\u2019", "`", "/") or text[start - 1 : start] == "/":
        return False  # "participant's", "pneumonitis/interstitial lung disease": one word
    if written[:1].isupper() and not written.isupper() and _in_name(text, start, end):
        return False
    if _shares_its_noun(text, start, written, plain):
        return False
    before, after = _word_before(text, start), _word_after(text, end)
    words = plain.split()
    pairs = [(before, words[0]), (after, words[-1])]  # where the words meet, any length
    pairs += [(n, word) for word in words if len(word) >= _STEM for n in (before, after)]
    return not any(_same_word(neighbour, word) for neighbour, word in pairs)


def _shares_its_noun(text: str, start: int, written: str, plain: str) -> bool:
    """Whether words before "or"/"and" lean on the term's last word: in "locally advanced or
    metastatic disease", "disease" belongs to both, so "cancer that has spread" cannot replace
    "metastatic disease" without leaving "locally advanced" with no noun."""
    words = written.split()
    if len(words) < 2 or plain.split()[-1].casefold() == words[-1].casefold():
        return False
    return _JOINED.search(text[:start]) is not None


_JOINED = re.compile(r"\b(?:or|and|and/or)\s+$")


def _in_name(text: str, start: int, end: int) -> bool:
    """Whether capitalised words sit inside a longer capitalised name rather than start a
    sentence: a capitalised word right before or after them."""
    before = re.search(r"([A-Za-z][\w'-]*) $", text[:start])
    after = re.match(r" ([A-Za-z][\w'-]*)", text[end:])
    return any(found is not None and found.group(1)[0].isupper() for found in (before, after))


def _cased(plain: str, written: str) -> str:
    """A capitalised word ("Participants" starting a sentence) gets a capitalised plain word;
    an abbreviation (any other capital: "ECOG", "CrCl") says nothing about the sentence, so it
    changes nothing."""
    if written[:1].isupper() and written[1:] == written[1:].lower():
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
            written: Piece = name
            if (
                term is not None
                and term.replace
                and _term_for(glossary, name) is term
                and "(" not in name
                and not _inside_parentheses(draft.text, start)
                and not _ARTICLE.search(draft.text[:start])
            ):
                written = Swap(_cased(term.plain, name), name)
            levels = _levels(glossary, scale, op, numbers, top) if scale == "ecog" else []
            plain = written.plain if isinstance(written, Swap) else ""
            draft.explain(term, name, levels, plain)
            link = match.group("link")
            link += "" if link.endswith(" ") else " "  # "KPS score≥70" reads "KPS score 70 or …"
            draft.claim(start, end, written, f"{link}{value}")


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
        if not draft.free(start, end, may_wrap_protected=True):
            continue
        term = _term_for(glossary, limit)
        said: Piece = Swap(term.plain, limit) if term is not None and term.replace else limit
        draft.claim(start, end, f"{match.group('n')} times the ", said)
        draft.explain(term, limit, plain=said.plain if isinstance(said, Swap) else "")


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
    _, _, finder = _aliases(glossary)
    text = draft.text
    candidates = sorted(finder.spans(text), key=lambda span: (span[0] - span[1], span[0]))
    chosen: list[tuple[int, int]] = []
    for start, end in candidates:
        if draft.free(start, end, may_wrap_protected=True) and not any(
            start < c_end and c_start < end for c_start, c_end in chosen
        ):
            chosen.append((start, end))
    found = [
        (start, end, term)
        for start, end in sorted(chosen)
        if (term := _term_for(glossary, text[start:end])) is not None
    ]
    # Two different things read the same ("AST or ALT" → "liver blood test or liver blood
    # test") cannot be told apart: such terms keep their words in this item.
    readings: dict[str, set[str]] = {}
    for start, end, term in found:
        if not term.everyday:
            readings.setdefault(_plain_for(term, text[start:end]).casefold(), set()).add(term.id)
    for start, end, term in found:
        written = text[start:end]
        plain = _cased(_plain_for(term, written), written)
        swapped = (
            term.replace
            and len(readings.get(plain.casefold(), ())) < 2
            and not any(char.isdigit() for char in written)  # "BRAF V600 mutation" keeps V600
            and _spelled_as_the_term(term, written)
            and (term.everyday or _fits_here(text, start, end, plain))
            and _may_swap(text, start, end, plain)
            and _swap(draft, start, end, plain)
        )
        if not term.everyday:
            listed = _plain_for(term, written) if swapped else ""  # as listed: not capitalised
            draft.explain(term, written, plain=listed)


def _spelled_as_the_term(term: Term, written: str) -> bool:
    """Words in capitals are swapped only when they are the term's abbreviation, and then only
    for a term whose meaning is listed: "PRIOR THERAPY" (a heading in capitals) keeps its
    words, and an abbreviation the reader no longer sees is explained beside its plain words."""
    if written.isupper() and len(written) > 1:
        return written in term.abbreviations and not term.everyday
    return True


def _swap(draft: _Draft, start: int, end: int, plain: str) -> bool:
    """Claim the swap of plain words for the written ones; after "a"/"an" the article is part of
    the swap when the plain words need the other one ("an investigational drug" → "a study
    drug"). False when the article could not be fixed."""
    written = draft.text[start:end]
    article = _ARTICLE.search(draft.text[:start])
    if article is None:
        draft.claim(start, end, Swap(plain, written))
        return True
    said = article.group(0).strip()
    needed = "an" if plain[:1].lower() in "aeio" else "a"
    if said.lower() == needed:
        draft.claim(start, end, Swap(plain, written))
        return True
    article_start = start - len(article.group(0).lstrip())
    if plain[:1].lower() == "u" or not draft.free(article_start, start):
        return False  # "a usual"/"an unusual": the sound decides, so leave it as written
    needed = needed.capitalize() if said[:1].isupper() else needed
    draft.claim(article_start, end, Swap(f"{needed} {plain}", draft.text[article_start:end]))
    return True


def _assemble(text: str, edits: list[_Edit]) -> list[Piece]:
    out: list[Piece] = []
    position = 0
    for edit in sorted(edits, key=lambda e: e.start):
        out.append(text[position : edit.start])
        out.extend(edit.pieces)
        position = edit.end
        said = reader_text(edit.pieces)
        if said[-1:].isalnum() and (text[position : position + 1] or " ")[0] in _GLUED:
            out.append(" ")  # "grade ≤1(CTCAE" reads "grade 1 or lower (CTCAE"
    out.append(text[position:])
    pieces = [piece for piece in out if piece != ""]
    if pieces and any(edit.start == 0 for edit in edits):
        first = pieces[0]
        if isinstance(first, Swap):
            pieces[0] = Swap(first.plain[:1].upper() + first.plain[1:], first.original)
        else:
            pieces[0] = first[:1].upper() + first[1:]
    return pieces


def rewrite_item(text: str, glossary: Glossary, seen: frozenset[str] = frozenset()) -> Rewrite:
    """One criterion in plain English, or as written when the rewrite fails a fidelity check.

    `text` may be raw registry text: it is normalised first (`watcher.core.criteria.normalise`,
    whitespace collapsed), and `original` is that normalised text. `seen` holds the ids of terms
    already explained earlier in the same notification: they are neither rewritten nor listed.
    """
    return _rewrite(" ".join(normalise(text).split()), glossary, seen)


def _rewrite(text: str, glossary: Glossary, seen: frozenset[str]) -> Rewrite:
    """`text` rewritten, listing only the terms not in `seen`: `seen` changes which terms an
    item lists and nothing else, so the rewrite itself is worked out once per text."""
    result = _rewrite_fresh(text, glossary)
    if seen.isdisjoint(hit.id for hit in result.terms):
        return result
    return replace(result, terms=tuple(hit for hit in result.terms if hit.id not in seen))


# Items rewritten, kept: a new version of a trial mostly repeats its criteria word for word, and
# a trial's page, welcome and match emails rewrite the same items again. About 1.4 kB each (the
# recorded criteria): some 6 MB at most, the items of a hundred trials or so.
_REWRITES_KEPT = 4096


@lru_cache(maxsize=_REWRITES_KEPT)
def _rewrite_fresh(text: str, glossary: Glossary) -> Rewrite:
    """`text` rewritten as the first item of a notification (no term explained before it)."""
    draft = _Draft(text, set(), [], [], [])
    _protect(draft)
    _scales(draft, glossary)
    _grades(draft, glossary)
    _ages(draft)
    _multiples(draft, glossary)
    _comparators(draft)
    _ranges(draft)
    _terms(draft, glossary)
    pieces = _assemble(text, draft.edits)
    problems = check(text, pieces, glossary)
    if problems:
        written = split_units(text) or (text,)
        units = (*written[:-1], written[-1] + SHOWN_AS_WRITTEN)
        return Rewrite(text, "\n".join(units), True, (), problems, units, (text,))
    units = split_units(reader_text(pieces))
    return Rewrite(text, "\n".join(units), False, tuple(draft.hits), (), units, tuple(pieces))


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
                units=result.units,
                pieces=result.pieces,
            )
        )
    return items
