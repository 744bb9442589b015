"""Properties of the plain-English rewrite over any input: no crash, and nothing unfaithful sent.

Two kinds of generated input: any Unicode text, and criteria-like text assembled from the pieces
real records are made of (comparators, scales, grades, ranges, gene tokens, glossary terms,
negations, CommonMark escapes). What is sent is read by the independent oracle in conftest
(digits, comparators by its own table, negation words, gene and version tokens), not by the
checker the rewriter itself runs. A third property attacks the checker and the oracle: every
faithful rewrite of a recorded item, once corrupted the ways a buggy rewriter could corrupt it,
must fail both.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from oracle import oracle_problems

from watcher.core.fidelity import Piece, Swap, check, reader_text
from watcher.core.rewrite import SHOWN_AS_WRITTEN, PlainItem, rewrite_criteria
from watcher.data import load_glossary

pytestmark = pytest.mark.slow  # hypothesis over the rewriter and the whole recorded corpus

GLOSSARY = load_glossary()

PIECES = [
    *(
        ">",
        "≥",
        "<",
        "≤",
        ">=",
        "<=",
        "=>",
        "\\>",
        "\\<",
        "\uff1e",
        "≧",
        "\u00d7",
        "x",
        "-",
        "~",
        "\u2013",
    ),
    *("0", "1", "2", "3", "18", "75", "1.5", "2.5", "100", "1,500", "50%", "10^9/L"),
    *("ECOG", "ECOG performance status", "ECOG PS of", "WHO", "Karnofsky", "KPS", "NYHA class"),
    *("grade", "Grade", "class", "II", "years", "years old", "of age", "months", "aged", "Age:"),
    *("ULN", "LLN", "upper limit of normal (ULN)", "mg/dL", "mL/min"),
    *(
        "PD-1",
        "PD-L1",
        "CTLA-4",
        "COVID-19",
        "BRAF V600E",
        "RECIST1.1",
        "CTCAE V5.0",
        "NCT01234567",
    ),
    *("malignancy", "a", "an", "platelets", "informed consent", "brain metastases", "ANC"),
    *("systemic therapy", "first-line therapy", "adverse events", "(", ")", "[", "]", ";", ","),
    *("no", "not", "without", "no evidence of", "negative for", "cannot", "not only", "or"),
    *("patients", "at least", "more than", "or older", "or higher", "\n", "\n* ", "\n  1. "),
    *("Inclusion Criteria:", "Exclusion Criteria:", ":"),
]


def assert_sent_items_are_faithful(items: list[PlainItem]) -> None:
    """Fallbacks are marked and list no terms; what is sent passes the independent oracle."""
    for item in items:
        if item.shown_as_written:
            assert " ".join(item.units) == " ".join((item.original + SHOWN_AS_WRITTEN).split())
            assert item.terms == ()
        else:
            assert " ".join(item.units) == " ".join(reader_text(item.pieces).split())
            assert oracle_problems(item.original, item.pieces) == [], item


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_is_rewritten_faithfully_or_shown_as_written(text: str) -> None:
    """Whatever the registry sends, rewriting never crashes and never sends a failed rewrite."""
    assert_sent_items_are_faithful(rewrite_criteria(text, GLOSSARY))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30), st.lists(st.sampled_from(["", " "])))
def test_criteria_like_text_is_rewritten_faithfully_or_shown_as_written(
    pieces: list[str], gaps: list[str]
) -> None:
    """Dense mixes of comparators, scales, tokens and terms are never sent unfaithful."""
    text = "".join(piece + (gaps[i] if i < len(gaps) else " ") for i, piece in enumerate(pieces))
    assert_sent_items_are_faithful(rewrite_criteria(text, GLOSSARY))


@pytest.fixture(scope="module")
def rewritten(plain_corpus: list[PlainItem]) -> list[PlainItem]:
    """Every recorded item whose faithful rewrite differs from the original, once each."""
    seen: set[str] = set()
    out: list[PlainItem] = []
    for item in plain_corpus:
        if item.plain != item.original and not item.shown_as_written and item.plain not in seen:
            seen.add(item.plain)
            out.append(item)
    return out


SWAPS = {
    "at least": "more than",
    "more than": "at least",
    "no more than": "less than",
    "less than": "no more than",
    "or older": "or younger",
    "or lower": "or higher",
    "or higher": "or lower",
    "older than": "younger than",
    " to ": " or ",
}


def _digit_changed(text: str, index: int) -> str:
    digits = [m.start() for m in re.finditer(r"\d", text)]
    if not digits:
        return text
    at = digits[index % len(digits)]
    return text[:at] + str((int(text[at]) + 1) % 10) + text[at + 1 :]


def _comparator_swapped(text: str, index: int) -> str:
    found = [(m.start(), m.end(), old) for old in SWAPS for m in re.finditer(re.escape(old), text)]
    if not found:
        return text
    start, end, old = sorted(found)[index % len(found)]
    return text[:start] + SWAPS[old] + text[end:]


def _negation_dropped(text: str, index: int) -> str:
    found = list(re.finditer(r"\b(?:not|no|without)\s", text, re.IGNORECASE))
    if not found:
        return text
    match = found[index % len(found)]
    return text[: match.start()] + text[match.end() :]


def _name_respelled(text: str, index: int) -> str:
    found = list(re.finditer(r"\b[A-Z]{2,}\b", text))
    if not found:
        return text
    match = found[index % len(found)]
    return text[: match.start()] + match.group(0)[:-1] + "Q" + text[match.end() :]


Mutation = Callable[[str, int], str]  # the text itself when it does not apply
MUTATIONS: list[Mutation] = [
    _digit_changed,
    _comparator_swapped,
    _negation_dropped,
    _name_respelled,
]


_HOLE = "\ue000"  # where a swap sits while a mutation reads the text around it


def mutated(pieces: tuple[Piece, ...], mutate: Mutation, index: int) -> tuple[Piece, ...]:
    """The rewrite with `mutate` applied to its text outside the swaps (the glossary's plain
    words are not the trial's, so a corruption there proves nothing)."""
    swaps = [piece for piece in pieces if isinstance(piece, Swap)]
    text = "".join(piece if isinstance(piece, str) else _HOLE for piece in pieces)
    parts = mutate(text, index).split(_HOLE)
    out: list[Piece] = [parts[0]]
    for swap, part in zip(swaps, parts[1:], strict=True):
        out += [swap, part]
    return tuple(out)


@settings(max_examples=400, deadline=None)
@given(st.data(), st.sampled_from(MUTATIONS), st.integers(min_value=0, max_value=50))
def test_a_corrupted_rewrite_of_a_real_item_is_caught(
    rewritten: list[PlainItem], data: st.DataObject, mutate: Mutation, index: int
) -> None:
    """Changing a digit, a comparator, a negation or a name in a sent rewrite always fails."""
    item = data.draw(st.sampled_from(rewritten))
    corrupted = mutated(item.pieces, mutate, index)
    assume(reader_text(corrupted) != reader_text(item.pieces))
    assert check(item.original, item.pieces, GLOSSARY) == ()
    assert check(item.original, corrupted, GLOSSARY) != ()


@pytest.mark.parametrize("mutate", MUTATIONS, ids=lambda m: m.__name__.strip("_"))
def test_the_oracle_sees_each_corruption_of_real_items(
    rewritten: list[PlainItem], mutate: Mutation
) -> None:
    """Each corruption, applied to every rewritten recorded item it fits, is seen by the oracle."""
    corrupted = [(item, mutated(item.pieces, mutate, 0)) for item in rewritten]
    corrupted = [(i, bad) for i, bad in corrupted if reader_text(bad) != reader_text(i.pieces)]
    assert len(corrupted) >= 20, "too few items for this corruption to prove anything"
    missed = [bad for item, bad in corrupted if not oracle_problems(item.original, bad)]
    assert missed == []
