"""The units a reader takes in one go: an eligibility item split into sentences, clauses and
list members (pure).

A long criterion is hard to read because a reader must hold all of it at once. Splitting it
where the writer already paused lets each line be read alone, and changes no word: a unit
boundary is only ever placed at a space, so the units joined by spaces are the item again
(the fidelity check runs on that text). Boundaries, outside parentheses only:

- after a sentence end (". ", "! ", "? ") followed by a capital, a digit or "(" — but not after
  an abbreviation ("e.g.", "i.e.", "vs.", "Dr.", "approx.") or an initial ("J. Smith");
- after a semicolon followed by a space, and after a colon followed by a space when at least
  three words stand on each side ("Age: 18 years or older" is one unit; "1:1" has no space);
- between the members of a strictly detected list: after "such as", "including", "the
  following", "as follows" or "any of", three or more short members (at most five words
  each) separated by commas, running to the end of the unit, with "or"/"and" only before
  the last. Anything looser stays one unit: a wrong split would pair words that belong apart.
"""

from __future__ import annotations

import re

_NOT_A_SENTENCE_END = re.compile(
    r"(?:\b(?:e\.g|i\.e|etc|vs|Dr|Drs|Mr|Mrs|Ms|No|approx|incl|St|Fig|al|U\.S)\.|\b[A-Z]\.)$"
)
_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(])|(?<=[;:])\s+")
_LIST_LEAD = re.compile(
    r"\b(?:such as|including(?: but not limited to)?|the following|as follows|any of)"
    r"(?::)?\s+",
    re.IGNORECASE,
)
_COLON_SIDE_WORDS = 3
_MEMBER_WORDS_MAX = 5
_LIST_MEMBERS_MIN = 3


def _depths(text: str) -> list[int]:
    """Parenthesis depth before each character."""
    depth, out = 0, []
    for char in text:
        out.append(depth)
        if char in "([":
            depth += 1
        elif char in ")]" and depth:
            depth -= 1
    return out


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


def split_units(text: str) -> tuple[str, ...]:
    """`text` as the units a reader takes in one go, in order; " ".join(units) is the text
    with its runs of whitespace made single spaces."""
    flat = " ".join(text.split())
    return tuple(unit for clause in _clauses(flat) for unit in _list_members(clause))
