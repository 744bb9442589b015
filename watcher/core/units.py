"""The units a reader takes in one go: an eligibility item split into sentences, clauses and
list members (pure).

A long criterion is hard to read because a reader must hold all of it at once. Splitting it
where the writer already paused lets each line be read alone, and changes no word: a unit
boundary is only ever placed at a space, so the units joined by spaces are the item again
(the fidelity check runs on that text). Boundaries, outside parentheses only:

- after a sentence end (". ", "! ", "? ") followed by a capital, a digit or "(" — but not after
  an abbreviation ("e.g.", "i.e.", "vs.", "Dr.", "approx."), an initial ("J. Smith") or a
  letter that labels the item ("g. Serious …");
- after a semicolon followed by a space, and after a colon followed by a space when at least
  three words stand on each side ("Age: 18 years or older" is one unit; "1:1" has no space);
- between the members of a strictly detected list: after "such as", "including", "the
  following", "as follows" or "any of", three or more short members (at most five words
  each) separated by commas, running to the end of the unit, with "or"/"and" only before
  the last. Anything looser stays one unit: a wrong split would pair words that belong apart;
- in a unit still longer than 20 words, lines are packed greedily up to 16 words, breaking
  only after a comma, before a parenthesis of four words or more and after it, or, when a
  stretch has none of those, before a joining word ("or", "and", "who", "which", "unless",
  "excluding"…). A line never ends on a word that leads into the next ("in / which", "such /
  as", "the"), nor splits "X or Y" where X is one word that may modify the noun after Y
  ("with actual / or possible … activity"). The words and their order stay; a long sentence
  reads as short lines.
"""

from __future__ import annotations

import re

_NOT_A_SENTENCE_END = re.compile(
    r"(?:\b(?:e\.g|i\.e|etc|vs|Dr|Drs|Mr|Mrs|Ms|No|approx|incl|St|Fig|al|U\.S)\.|\b[A-Za-z]\.)$"
)
_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(])|(?<=[;:])\s+")
_LIST_LEAD = re.compile(
    r"\b(?:such as|including(?: but not limited to)?|the following|as follows|any of)"
    r"[:,]?\s+",
    re.IGNORECASE,
)
_COLON_SIDE_WORDS = 3
_LONG_UNIT_WORDS = 20
_LINE_WORDS = 16
_ASIDE_WORDS_MIN = 4
_LINE_WORDS_MIN = 4
_AFTER_COMMA = re.compile(r"(?<=,) ")
_BEFORE_JOINING_WORD = re.compile(
    r" (?=(?:or|and|but|who|which|that|if|unless|except|excluding|including|when|where|while"
    r"|because|after|within|during|with|without|as)\b)"
    r"(?!(?:or|and) (?:lower|higher|older|younger|more|less|greater|fewer|above|below)\b)"
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# A line never ends on a word that needs the next one: a preposition ("circumstances in / which"),
# an article, a conjunction, the "such" of "such as" or the "long" of "as long as".
_LEADING_WORDS = _words(
    "a an the of in on at by for to from into onto upon with without within per via than as"
    " or and but nor not no any such long whom whose"
)
# Before "or"/"and", a first member of one word after one of these may be a modifier shared
# with the next member ("with actual or possible direct antiviral activity", "at a stable or
# decreasing dose"), or a noun paired with the next ("the brain or spinal cord"): not cut there
# unless the line would stay over `_LONG_UNIT_WORDS` words without that cut...
_MODIFIER_LEAD = _words(
    "a an the of in on at by for to from into with without within per via as including"
    " excluding except any no some other its their his her this these those"
)
# ... nor when the second member starts a phrase or clause of its own ("the drug / and had
# their last dose", "the study / or need medical treatment"): then the first was no modifier.
_CLAUSE_LEAD = _LEADING_WORDS | _words(
    "is are was were be been has have had must may might can could will would should shall"
    " do does did there it they he she we you who which that if when where while"
    " need needs get gets use uses take takes give gives agree agrees sign signs"
)
_MEMBER_WORDS_MAX = 5
_LIST_MEMBERS_MIN = 3


def _depths(text: str) -> list[int]:
    """Parenthesis depth before each character."""
    if "(" not in text and "[" not in text:
        return [0] * len(text)  # most units: no need to look at each character
    depth, out, position = 0, [], 0
    for bracket in _BRACKET.finditer(text):  # a run of characters at one depth at a time
        at = bracket.start()
        out += [depth] * (at + 1 - position)
        if bracket.group() in "([":
            depth += 1
        elif depth:
            depth -= 1
        position = at + 1
    out += [depth] * (len(text) - position)
    return out


_BRACKET = re.compile(r"[()\[\]]")


def _clauses(text: str) -> list[str]:
    depth = _depths(text)
    out: list[str] = []
    start = 0
    for match in _BREAK.finditer(text):
        head = text[start : match.start()]
        if depth[match.start()] or _NOT_A_SENTENCE_END.search(head):
            continue
        if head.endswith(":") and (
            len(head.split()) < _COLON_SIDE_WORDS
            or len(text[match.end() :].split()) < _COLON_SIDE_WORDS
        ):
            continue
        out.append(text[start : match.start()])
        start = match.end()
    out.append(text[start:])
    return [clause.strip() for clause in out if clause.strip()]


def _list_members(clause: str) -> list[str]:
    """The clause as its lead and list members, or the clause alone when no list is sure."""
    depth = _depths(clause)
    for lead in _LIST_LEAD.finditer(clause):
        if depth[lead.start()]:
            continue
        rest = clause[lead.end() :]
        if "(" in rest or ")" in rest:
            continue
        members = [m.strip() for m in re.split(r"(?<=,)\s+", rest) if m.strip()]
        joined = [i for i, m in enumerate(members) if re.match(r"(?:or|and)\b", m)]
        if (
            len(members) >= _LIST_MEMBERS_MIN
            and all(len(m.split()) <= _MEMBER_WORDS_MAX for m in members)
            and all(m.endswith(",") for m in members[:-1])
            and joined in ([], [len(members) - 1])
            and not re.search(r"[;:]", rest.rstrip(";:."))
        ):
            return [clause[: lead.end()].strip(), *members]
    return [clause]


def _pieces(unit: str, breaks: re.Pattern[str], pairs: bool = True) -> list[str]:
    """`unit` cut at every match of `breaks` outside parentheses (cuts are at spaces) where
    `_may_cut` allows it; a unit that is one parenthesis is cut inside it."""
    depth = _depths(unit)
    outer = 1 if unit.startswith("(") and _ends_its_parenthesis(unit) else 0
    out: list[str] = []
    start = 0
    for match in breaks.finditer(unit):
        if depth[match.start()] > outer or match.start() <= start:
            continue
        if not _may_cut(unit[: match.start()], unit[match.end() :], pairs):
            continue
        out.append(unit[start : match.start()].strip())
        start = match.end()
    out.append(unit[start:].strip())
    return [piece for piece in out if piece]


def _may_cut(before: str, after: str, pairs: bool) -> bool:
    """Whether a line may end after `before` and the next begin with `after`: never after a
    word that leads into the next one or is cut at a hyphen ("radio- / or chemoradiotherapy");
    with `pairs`, not inside "X or Y" when X is one word after an article or a preposition
    (a modifier or a noun that Y shares), unless Y starts a clause or phrase of its own."""
    words = before.split()
    last = words[-1].lower() if words else ""
    if last in _LEADING_WORDS or last.endswith("-"):
        return False
    if not pairs:
        return True
    joined = re.match(r"(?:or|and) (\w+)", after)
    if not joined or not last.isalnum():
        return True
    if joined[1].lower() in _CLAUSE_LEAD or joined[1][0].isdigit():  # "… / or 3 months after"
        return True
    lead = words[-2].lower() if len(words) >= 2 else ""
    return lead not in _MODIFIER_LEAD


def _ends_its_parenthesis(unit: str) -> bool:
    """Whether the parenthesis `unit` opens closes at its end (before a last , ; or .)."""
    depth = _depths(unit)
    closing = len(unit.rstrip(",;.")) - 1
    return unit[closing] == ")" and all(d > 0 for d in depth[1 : closing + 1])


def _parenthesised(unit: str) -> list[str]:
    """`unit` with each parenthesis of four words or more, set off by spaces, on its own line."""
    parts = re.split(r"(\((?:[^()]|\([^()]*\))*\)[,;.]?)", unit)
    out: list[str] = []
    line = ""
    for i, part in enumerate(parts):
        following = parts[i + 1] if i + 1 < len(parts) else ""
        aside = (
            i % 2 == 1
            and len(part.split()) >= _ASIDE_WORDS_MIN
            and (not line or line[-1:].isspace())
            and (not following or following[:1].isspace())
        )
        if aside:
            out += [line.strip(), part]
            line = ""
        else:
            line += part
    return [piece for piece in (*out, line.strip()) if piece]


def _packed(pieces: list[str]) -> list[str]:
    """Pieces joined back into lines of at most `_LINE_WORDS` words where they fit; a piece
    of fewer than `_LINE_WORDS_MIN` words ("Those") never stands alone."""
    lines: list[str] = []
    for piece in pieces:
        short = lines and len(lines[-1].split()) < _LINE_WORDS_MIN
        fits = lines and len(lines[-1].split()) + len(piece.split()) <= _LINE_WORDS
        if short or fits:
            lines[-1] += " " + piece
        else:
            lines.append(piece)
    if len(lines) > 1 and len(lines[-1].split()) < _LINE_WORDS_MIN:
        lines[-2:] = [lines[-2] + " " + lines[-1]]
    return lines


def _line_pieces(unit: str, pairs: bool) -> list[str]:
    return [
        part
        for aside in _parenthesised(unit)
        for comma in _pieces(aside, _AFTER_COMMA, pairs)
        for part in (
            _pieces(comma, _BEFORE_JOINING_WORD, pairs)
            if len(comma.split()) > _LINE_WORDS
            else [comma]
        )
    ]


def _short_lines(unit: str) -> list[str]:
    """A long unit as lines; a line still long without the "X / or Y" cuts takes them."""
    if len(unit.split()) <= _LONG_UNIT_WORDS:
        return [unit]
    return [
        short
        for line in _packed(_line_pieces(unit, pairs=True))
        for short in (
            _packed(_line_pieces(line, pairs=False))
            if len(line.split()) > _LONG_UNIT_WORDS
            else [line]
        )
    ]


def split_units(text: str) -> tuple[str, ...]:
    """`text` as the units a reader takes in one go, in order; " ".join(units) is the text
    with its runs of whitespace made single spaces."""
    flat = " ".join(text.split())
    return tuple(
        line
        for clause in _clauses(flat)
        for unit in _list_members(clause)
        for line in _short_lines(unit)
    )
