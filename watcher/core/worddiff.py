"""Which words of a text changed: a word-level diff a reader can take in (pure).

A changed criterion or treatment description is often one edited word in a long paragraph
("within 2 weeks of allocation" → "allocation/randomization"). Shown as two whole paragraphs, the
reader has to find the difference; shown as spans, the unchanged words plain and the changed
ones marked, they see it at once. `word_diff` gives those spans; `wording` decides what to say
around them and the templates how to mark them (`<del>`/`<ins>`, or "Before:"/"Now:" lines).

Choices, each for the reader:

- Tokens are words, whole numbers ("1.5", "10,000", "50%") and single punctuation marks, so a
  number is never shown half changed, and "allocation" → "allocation/randomization" marks only
  "/randomization". A hyphenated word ("PD-L1", "non-infectious") is one token.
- Tokens are compared exactly (case too: a coordinator must see "I-DxD" → "I-DXd").
- A short run of unchanged words between two changes is folded into one change (the rule of
  diff-match-patch's semantic clean-up, counted in words): "[-had a-]{+has any+}" reads better
  than "[-had-]{+has+} [-a-]{+any+}", and a rewritten sentence is not confetti.
- With `context`, a long unchanged run keeps only the few words next to each change, cut at a
  clause boundary when one is near, with "…" for what is left out; a short item stays whole.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Mark = Literal["del", "ins"]
ELLIPSIS = "…"
# Unchanged words kept on each side of a change when a diff is cut to its context.
CONTEXT_WORDS = 6
# A run is cut only when it is this many words longer than the context it keeps: cutting
# two or three words saves nothing and costs the reader the sentence.
_SLACK = 4
# How far from the context a clause boundary may be to cut there instead.
_BOUNDARY_REACH = 3
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*%?|\w+(?:['\u2019-]\w+)*|[^\w\s]")
# Where a clause ends: punctuation, and the joining words a list of conditions turns on
# ("within 4 weeks or minor surgery within 2 weeks": a cut after "or" keeps "minor").
_CLAUSE_END = frozenset((*",;:.!?", "or", "and", "but"))
_DANGLING = frozenset(",;:")


@dataclass(frozen=True, slots=True)
class Span:
    """A run of text: in both versions (`mark` None), only in the old one ("del"), or only in
    the new one ("ins"). Unmarked spans carry the spaces between marked ones."""

    text: str
    mark: Mark | None = None


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    spaced: bool  # whitespace came before it in its text

    @property
    def is_word(self) -> bool:
        return self.text[0].isalnum() or self.text[0] == "_"


@dataclass(frozen=True, slots=True)
class _Run:
    """A stretch of both texts: equal (`old` and `new` hold the same words) or changed."""

    old: tuple[_Token, ...]
    new: tuple[_Token, ...]
    equal: bool


def _tokens(text: str) -> tuple[_Token, ...]:
    return tuple(
        _Token(m.group(), m.start() > 0 and text[m.start() - 1].isspace())
        for m in _TOKEN.finditer(text)
    )


def _words(tokens: Sequence[_Token]) -> int:
    return sum(1 for t in tokens if t.is_word)


def _runs(old: tuple[_Token, ...], new: tuple[_Token, ...]) -> list[_Run]:
    matcher = difflib.SequenceMatcher(
        None, [t.text for t in old], [t.text for t in new], autojunk=False
    )
    runs: list[_Run] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        runs.append(_Run(old[i1:i2], new[j1:j2], tag == "equal"))
    return _merged(runs)


def _merged(runs: list[_Run]) -> list[_Run]:
    """Adjacent changes joined into one."""
    out: list[_Run] = []
    for run in runs:
        if out and not run.equal and not out[-1].equal:
            last = out.pop()
            run = _Run(last.old + run.old, last.new + run.new, False)
        out.append(run)
    return out


def _size(run: _Run) -> int:
    return max(_words(run.old), _words(run.new))


def _folded(runs: list[_Run]) -> list[_Run]:
    """Unchanged runs between two changes folded into them when they are no longer than the
    changes on both sides (in words; punctuation alone always folds)."""
    while True:
        for i in range(1, len(runs) - 1):
            before, run, after = runs[i - 1], runs[i], runs[i + 1]
            between = run.equal and not before.equal and not after.equal
            if between and _words(run.old) <= min(_size(before), _size(after)):
                joined = _Run(
                    before.old + run.old + after.old, before.new + run.new + after.new, False
                )
                runs = [*runs[: i - 1], joined, *runs[i + 2 :]]
                break
        else:
            return runs


def _joined(tokens: Sequence[_Token]) -> str:
    """Tokens as text, each with the space it had before it (none before the first)."""
    return "".join((" " if t.spaced and i else "") + t.text for i, t in enumerate(tokens))


def _cut_before(tokens: tuple[_Token, ...], keep: int) -> int:
    """Where the context before a change starts: `keep` words back, or a clause boundary near."""
    starts = [i for i, t in enumerate(tokens) if t.is_word]
    if len(starts) <= keep + _SLACK:
        return 0
    start = starts[-keep]
    for i in range(start - 1, -1, -1):  # a boundary a few words further back
        if tokens[i].text in _CLAUSE_END:
            if _words(tokens[i + 1 : start]) <= _BOUNDARY_REACH:
                return i + 1
            break
    for i in range(start, len(tokens)):  # or a little nearer
        if tokens[i].text in _CLAUSE_END and _words(tokens[i + 1 :]) >= keep - _BOUNDARY_REACH:
            return i + 1
    return start


def _cut_after(tokens: tuple[_Token, ...], keep: int) -> int:
    """Where the context after a change ends: `keep` words on, or at a clause boundary near
    (a comma or colon left dangling before the cut is cut too)."""
    ends = [i + 1 for i, t in enumerate(tokens) if t.is_word]
    if len(ends) <= keep + _SLACK:
        return len(tokens)
    end = _boundary_after(tokens, ends[keep - 1], keep)
    while end > 1 and tokens[end - 1].text in _DANGLING:
        end -= 1
    return end


def _boundary_after(tokens: tuple[_Token, ...], end: int, keep: int) -> int:
    for i in range(end, len(tokens)):  # a boundary a few words further on
        if tokens[i].text in _CLAUSE_END:
            if _words(tokens[end:i]) <= _BOUNDARY_REACH:
                return i
            break
    for i in range(end - 1, -1, -1):  # or a little nearer
        if tokens[i].text in _CLAUSE_END and _words(tokens[:i]) >= keep - _BOUNDARY_REACH:
            return i
    return end


def _space(run: _Run) -> list[Span]:
    """The space before a run that is not the first, marked as the version's own when only
    one version has it ("1.1 as assessed." → "1.1.": the space is only in the old text)."""
    old = bool(run.old) and run.old[0].spaced
    new = bool(run.new) and run.new[0].spaced
    if old and new:
        return [Span(" ")]
    return [Span(" ", "del" if old else "ins")] if old or new else []


def _unchanged_spans(tokens: tuple[_Token, ...], first: bool, last: bool, keep: int) -> list[Span]:
    """An unchanged run, cut to `keep` words beside the changes it touches (without the
    space before it)."""
    if first and last:
        return [Span(_joined(tokens))]
    if first:
        cut = _cut_before(tokens, keep)
        return [Span((ELLIPSIS if cut else "") + _joined(tokens[cut:]))]
    if last:
        cut = _cut_after(tokens, keep)
        return [Span(_joined(tokens[:cut]) + (ELLIPSIS if cut < len(tokens) else ""))]
    head_end = _cut_after(tokens, keep)
    tail_start = _cut_before(tokens, keep)
    if head_end >= tail_start:
        return [Span(_joined(tokens))]
    middle = f" {ELLIPSIS} "
    return [Span(_joined(tokens[:head_end]) + middle + _joined(tokens[tail_start:]))]


def word_diff(old: str, new: str, context: int | None = None) -> tuple[Span, ...]:
    """`old` → `new` as spans, unchanged or marked; with `context`, long unchanged runs are cut
    to that many words beside each change (see the module docstring). Equal texts give one
    unmarked span. A space only one version has is a span of its own, marked as that
    version's: it is whitespace, so layouts show it bare."""
    runs = _folded(_runs(_tokens(old), _tokens(new)))
    spans: list[Span] = []
    for i, run in enumerate(runs):
        if i:
            spans += _space(run)
        if not run.equal:
            spans += [Span(_joined(run.old), "del"), Span(_joined(run.new), "ins")]
        elif context is None:
            spans.append(Span(_joined(run.new)))
        else:
            spans += _unchanged_spans(run.new, i == 0, i == len(runs) - 1, context)
    return tuple(span for span in spans if span.text)


def tokens(text: str) -> tuple[str, ...]:
    """What the diff compares in `text`: words, whole numbers and punctuation marks."""
    return tuple(t.text for t in _tokens(text))


def words(text: str) -> tuple[str, ...]:
    """The words of `text` as the diff compares them (numbers whole, punctuation left out)."""
    return tuple(t.text for t in _tokens(text) if t.is_word)


def shows_every_edit(old: str, new: str, spans: Sequence[Span]) -> bool:
    """Whether `spans`, the diff of two rewrites of `old` and `new` (plain English), shows each
    change `old` → `new` as a change.

    A change shows when one of the tokens it took out (or put in) is marked so in `spans`; a
    change whose tokens the rewrite replaced everywhere ("≥" → "at least") cannot be placed,
    and is taken to show when `spans` marks anything. What this catches is a rewrite that reads
    two different words alike ("corticosteroids" and "steroids" both as "steroids"): its diff
    would hide a change the registry made.
    """
    marked = {
        mark: {t for span in spans if span.mark == mark for t in tokens(span.text)}
        for mark in ("del", "ins")
    }
    shown = {t for span in spans for t in tokens(span.text)}
    for run in _folded(_runs(_tokens(old), _tokens(new))):
        taken_out, put_in = {t.text for t in run.old}, {t.text for t in run.new}
        if run.equal or taken_out & marked["del"] or put_in & marked["ins"]:
            continue
        if (taken_out | put_in) & shown or not (marked["del"] or marked["ins"]):
            return False
    return True


def changed_words(spans: Sequence[Span]) -> int:
    """How many words were taken out or put in."""
    return sum(len(words(span.text)) for span in spans if span.mark)


def side(spans: Sequence[Span], mark: Mark) -> str:
    """One version as text: the unchanged spans and those marked `mark` ("del": the old text,
    "ins": the new), spaces evened out."""
    return " ".join("".join(s.text for s in spans if s.mark in (None, mark)).split())


def marked_text(spans: Sequence[Span]) -> str:
    """Both versions in one line, as `git diff --word-diff` marks them: "[-old-]{+new+}"."""
    marks = {None: "{}", "del": "[-{}-]", "ins": "{{+{}+}}"}
    text = "".join(marks[s.mark if s.text.strip() else None].format(s.text) for s in spans)
    return " ".join(text.split())
