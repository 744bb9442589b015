"""Eligibility criteria as items: sections, nesting and position, the way a reader sees them (pure).

The registry stores eligibility as one CommonMark string written for regulators. Both the diff
(which item changed?) and the plain-English summary (rewrite each item on its own) need the same
items, so the splitting lives here once.

What an item is, decided from the recorded records in `tests/fixtures/ctgov/`:

- Text is normalised first (`normalise`): CommonMark backslash escapes (`\\>`, `\\[`, `1\\.`)
  are removed, full-width punctuation and comparators become ASCII (a full-width `>` becomes
  `>`, `≧` becomes `≥`), and no-break or other odd spaces become plain spaces. Without this,
  a re-escaped record looks rewritten and `\\>3 months` reaches a patient with its backslash.
- Every non-blank line is an item unless it is a section heading. Real records put a blank line
  between items, so a line is the unit; an item is never split on ";" or between sentences,
  because "…; or ECOG 2" and "Note: …" belong to the criterion they qualify.
- A heading that only names a section ("Inclusion Criteria:", "Key exclusion criteria") switches
  the section and is not an item. A short heading that names a section *and* says more
  ("Inclusion Criteria for Sub Study 2:", "Donor Inclusion Criteria:") switches the section and
  is kept as a parent item, because its extra words limit who the items under it apply to.
- Nesting follows indentation, as CommonMark does: a list item indented under another is its
  child, and so is an indented paragraph written under an item (a "Note: …" line). A paragraph
  line ending in ":" ("For parent participants:") is the parent of the list items that follow it
  at the same or a deeper indent, until the next paragraph at its indent or a heading.
- Text before any heading, or under a heading that names neither section ("Eligibility
  criteria:"), is in the section "other": saying "inclusion" there would be a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

SECTIONS: tuple[str, ...] = ("inclusion", "exclusion", "other")


@dataclass(frozen=True, slots=True)
class Criterion:
    """One eligibility item, in document order.

    `parent` is the text of the item this one sits under (usually a line ending in ":"), so a
    reader of a single changed item still knows what it qualifies; `label` is its position as a
    reader would point at it ("3", "3.b", "2.1" for the first bullet under item 2).
    """

    section: str
    text: str
    depth: int
    parent: str | None
    label: str


# CommonMark: a backslash before any ASCII punctuation character is an escape.
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_ODD_SPACES = dict.fromkeys(map(ord, "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006"), " ")
_ODD_SPACES |= dict.fromkeys(map(ord, "\u2007\u2008\u2009\u200a\u202f\u205f\u3000"), " ")
# Full-width forms U+FF01..U+FF5E sit exactly 0xFEE0 above their ASCII twins.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_COMPARATOR_VARIANTS = {ord("≧"): "≥", ord("⩾"): "≥", ord("≦"): "≤", ord("⩽"): "≤"}
_TRANSLATION: dict[int, int | str] = {**_ODD_SPACES, **_FULL_WIDTH, **_COMPARATOR_VARIANTS}
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\ufeff]")
_HTML_COMMENT = re.compile(r"<!--.*?-->")

_SECTION_NAME = r"(?:[Ii]nclusion|[Ee]xclusion|INCLUSION|EXCLUSION) (?:[Cc]riteri(?:a|on)|CRITERIA)"
# "…may apply.Inclusion Criteria:": a heading glued to the sentence before it.
_GLUED_HEADING = re.compile(rf"(?<=[a-z.)])(?=(?:Key |KEY |Main )?{_SECTION_NAME}:?$)")
_BARE_HEADING = re.compile(r"(?:(?:key|main)\s+)?(inclusion|exclusion)\s+criteri(?:a|on)", re.I)
_SECTION_WORD = re.compile(r"\b(inclusion|exclusion)\b", re.I)
_CRITERIA_WORD = re.compile(r"\bcriteri(?:a|on)\b", re.I)
_OTHER_HEADING = re.compile(r"(?:eligibility|enrollment|enrolment)\s+criteria", re.I)
_HEADING_MAX_WORDS = 10

# A list marker and the spaces after it: bullets (CommonMark's and the ones pasted from word
# processors, including a lone "o" and "---"), "3." / "3)", "b." / "(b)", "iv.".
_MARKER = re.compile(
    r"(?P<marker>[*+•●○◦▪■➢o]|-{1,3}|\(?(?P<ordinal>\d{1,3}|[a-zA-Z]|[ivxIVX]{1,5})[.)])"
    r"[ \t]+(?=\S)"
)


def normalise(text: str) -> str:
    """The criteria text with escapes, full-width forms and odd spaces made plain.

    Line structure and indentation are kept (they carry the nesting); everything else that only
    changes how the text is typed, not what it says, is removed.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ZERO_WIDTH.sub("", text).translate(_TRANSLATION)
    text = _HTML_COMMENT.sub("", text)
    return _ESCAPE.sub(r"\1", text).expandtabs(4)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _heading(line: str) -> tuple[str, bool] | None:
    """(section, is it also an item?) when the line is a section heading, else None."""
    words = line.rstrip(":*").strip()
    if len(words.split()) > _HEADING_MAX_WORDS:
        return None
    named = {m.lower() for m in _SECTION_WORD.findall(words)}
    if len(named) == 1 and _CRITERIA_WORD.search(words) and "/" not in words:
        section = named.pop()
        return section, not _BARE_HEADING.fullmatch(words)
    if _OTHER_HEADING.fullmatch(words):
        return "other", False
    return None


@dataclass(slots=True)
class _Open:
    """An item that may still receive children while the parser walks down the text."""

    indent: int  # column of the marker (list item) or of the first character (paragraph)
    content: int  # column where the item's text starts: deeper paragraphs continue it
    is_list: bool
    introduces: bool  # a paragraph ending in ":" or a heading kept as an item
    label: str
    text: str
    children: int = 0

    def holds(self, indent: int, is_list: bool) -> bool:
        """Whether a line at `indent` sits under this item.

        A list item holds anything indented past its marker. A paragraph holds only when it
        introduces a list: list items at its own indent or deeper, paragraphs deeper than it.
        """
        if self.is_list:
            return indent > self.indent if is_list else indent >= self.content
        if not self.introduces:
            return False
        return indent >= self.indent if is_list else indent > self.indent


@dataclass(slots=True)
class _Parser:
    """Walks the lines once, keeping the chain of items the next line may belong to."""

    section: str = "other"
    stack: list[_Open] = field(default_factory=list)
    top_counts: dict[str, int] = field(default_factory=dict)  # per section: labels stay unique
    items: list[Criterion] = field(default_factory=list)

    def heading(self, section: str, line: str, is_item: bool) -> None:
        self.section, self.stack = section, []
        if is_item:
            self.add(line, indent=0, content=0, ordinal=None, is_list=False, introduces=True)

    def add(
        self,
        text: str,
        indent: int,
        content: int,
        ordinal: str | None,
        *,
        is_list: bool,
        introduces: bool,
    ) -> None:
        stack = self.stack
        while stack and not stack[-1].holds(indent, is_list):
            stack.pop()
        if stack:
            parent = stack[-1]
            parent.children += 1
            label = f"{parent.label}.{ordinal or parent.children}"
        else:
            count = self.top_counts[self.section] = self.top_counts.get(self.section, 0) + 1
            label = ordinal or str(count)
        body = _collapse(text)
        parent_text = stack[-1].text if stack else None
        self.items.append(Criterion(self.section, body, len(stack), parent_text, label))
        stack.append(_Open(indent, content, is_list, introduces, label, body))


def _lines(text: str) -> list[str]:
    out: list[str] = []
    for line in normalise(text).split("\n"):
        out.extend(_GLUED_HEADING.split(line.rstrip()))
    return [line for line in out if line.strip()]


def parse_criteria(text: str | None) -> list[Criterion]:
    """Every item of an eligibility text, flattened in document order (empty for no text)."""
    return list(_parsed(text)) if text else []


# Texts parsed, kept: the diff, the rewrite and the key facts all read the same criteria, and a
# new version of a trial mostly repeats them. A trial's items take some 13 kB: 3 MB at most.
_PARSED_KEPT = 256


@lru_cache(maxsize=_PARSED_KEPT)
def _parsed(text: str) -> tuple[Criterion, ...]:
    parser = _Parser()
    for line in _lines(text):
        indent = len(line) - len(line.lstrip(" "))
        body = line.strip()
        marker = _MARKER.match(body)
        if marker is None:
            heading = _heading(body)
            if heading is not None:
                parser.heading(heading[0], body, heading[1])
                continue
            introduces = body.endswith(":")
            parser.add(body, indent, indent, None, is_list=False, introduces=introduces)
            continue
        content = indent + marker.end()
        rest = body[marker.end() :]
        ordinal = marker.group("ordinal")
        parser.add(rest, indent, content, ordinal, is_list=True, introduces=rest.endswith(":"))
    return tuple(parser.items)
