"""Which words of a criterion changed (watcher.core.worddiff), on real edits from recorded chains.

A reader must see the words the registry changed marked, and nothing else marked: unchanged
words plain, numbers whole, both versions readable back from the marks.
"""

from __future__ import annotations

import json

from conftest import consecutive_versions
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.core.change import Change
from watcher.core.diff import diff_trials
from watcher.core.record import parse_trial
from watcher.core.worddiff import (
    CONTEXT_WORDS,
    Span,
    changed_words,
    marked_text,
    shows_every_edit,
    side,
    tokens,
    word_diff,
)


def recorded(nct_id: str, kind: str) -> list[Change]:
    """The changes of one kind between the recorded versions of a trial."""
    found: list[Change] = []
    for pair in consecutive_versions():
        if pair[0].name.startswith(nct_id):
            old, new = (parse_trial(json.loads(p.read_text(encoding="utf-8"))) for p in pair)
            found += [c for c in diff_trials(old, new) if c.kind == kind]
    return found


def allocation_edit() -> tuple[str, str]:
    """NCT07227597, 2026-02 → 2026-03: "of allocation (or first dose)" became
    "of allocation/randomization (or first dose)", the rest of the item unchanged."""
    (change,) = [c for c in recorded("NCT07227597", "eligibility") if "surgery" in str(c.old)]
    assert isinstance(change.old, str) and isinstance(change.new, str)
    return change.old, change.new


def marks(spans: tuple[Span, ...]) -> list[tuple[str, str]]:
    """The marked spans, spaces left out: what a reader sees highlighted."""
    return [(s.mark, s.text) for s in spans if s.mark and s.text.strip()]


def test_a_one_word_edit_marks_only_the_words_put_in() -> None:
    """In the allocation edit, "/randomization" is the only thing marked; the item reads whole."""
    old, new = allocation_edit()
    spans = word_diff(old, new)
    assert marks(spans) == [("ins", "/randomization")]
    assert marked_text(spans) == new.replace("/randomization", "{+/randomization+}")
    assert (side(spans, "del"), side(spans, "ins")) == (old, new)


def test_a_long_item_keeps_a_few_words_beside_the_change_cut_at_a_clause() -> None:
    """Cut to its context, the 30-word allocation item shows a dozen words: the change with the
    words around it up to the nearest comma or "or", with "…" where words are left out."""
    old, new = allocation_edit()
    spans = word_diff(old, new, CONTEXT_WORDS)
    assert side(spans, "del") == "…minor surgery within 2 weeks of allocation (or first dose)…"
    assert side(spans, "ins") == (
        "…minor surgery within 2 weeks of allocation/randomization (or first dose)…"
    )
    assert marks(spans) == [("ins", "/randomization")]


def test_a_short_item_is_shown_whole() -> None:
    """An item shorter than two contexts is never cut: the reader gets all of it."""
    spans = word_diff("Age >18 years", "Age >16 years", CONTEXT_WORDS)
    assert marked_text(spans) == "Age >[-18-]{+16+} years"


def test_numbers_are_never_shown_half_changed() -> None:
    """ "1.5" → "2.5" is one number changed, not "1" → "2" beside an unchanged ".5"."""
    spans = word_diff("ALT ≤ 1.5 x ULN and 10,000 cells", "ALT ≤ 2.5 x ULN and 12,000 cells")
    assert marks(spans) == [("del", "1.5"), ("ins", "2.5"), ("del", "10,000"), ("ins", "12,000")]


def test_a_respelling_is_marked_exactly() -> None:
    """NCT07227597's arms: "I-DxD" → "I-DXd" is a change a coordinator must see, one word."""
    arm = recorded("NCT07227597", "arms")[1]
    assert isinstance(arm.old, dict) and isinstance(arm.new, dict)
    old, new = str(arm.old["description"]), str(arm.new["description"])
    assert marks(word_diff(old, new)) == [("del", "I-DxD"), ("ins", "I-DXd")]


def test_a_rewritten_clause_is_a_few_changes_not_confetti() -> None:
    """NCT06780137 rewrote its lung-disease rule: short unchanged words ("or", "of") between
    changes fold into them, so the reader sees three changes and the words kept between."""
    (change,) = recorded("NCT06780137", "eligibility")
    spans = word_diff(str(change.old), str(change.new))
    assert len(marks(spans)) == 3
    assert marked_text(spans).startswith(
        "History of [-(noninfectious) pneumonitis/-] interstitial lung disease (ILD) [-that"
    )


def test_a_space_only_one_version_has_is_not_marked_as_a_change() -> None:
    """ "or suspected pneumonitis/ILD" → "or suspected ILD": one word marked, both read back."""
    spans = word_diff("or suspected pneumonitis/ILD", "or suspected ILD")
    assert marks(spans) == [("del", "pneumonitis/")]
    assert marked_text(spans) == "or suspected [-pneumonitis/-] ILD"
    assert side(spans, "del") == "or suspected pneumonitis/ILD"


def test_equal_texts_have_nothing_marked() -> None:
    """No change, no mark: the item comes back as one plain span."""
    assert word_diff("ECOG 0-1", "ECOG 0-1", CONTEXT_WORDS) == (Span("ECOG 0-1"),)
    assert changed_words(word_diff("ECOG 0-1", "ECOG 0-1")) == 0


def test_a_rewrite_that_reads_two_words_alike_does_not_show_every_edit() -> None:
    """If "corticosteroids" and "steroids" both read "steroids", the plain diff hides the
    registry's change; `shows_every_edit` says so, and accepts a diff that marks it."""
    old, new = "required corticosteroids", "required steroids"
    hidden = word_diff("required steroids", "required steroids")
    shown = word_diff("required steroids (corticosteroids)", "required steroids")
    assert not shows_every_edit(old, new, hidden)
    assert shows_every_edit(old, new, shown)
    assert shows_every_edit("age ≥ 18", "age > 18", word_diff("at least 18", "more than 18"))


TEXT = st.lists(
    st.sampled_from(["age", "18", "1.5", "or", "ILD", "/", ",", "(", ")", "no", "≥", "the"]),
    max_size=30,
).map(lambda words: " ".join(words))


@settings(max_examples=200, deadline=None)
@given(old=TEXT, new=TEXT)
def test_both_versions_read_back_from_the_marks(old: str, new: str) -> None:
    """Whatever two texts, the unmarked and "del" spans are the old text and the unmarked and
    "ins" spans the new one, token for token; cutting to context only leaves unmarked words out."""
    spans = word_diff(old, new)
    assert tokens(side(spans, "del")) == tokens(old)
    assert tokens(side(spans, "ins")) == tokens(new)
    cut = word_diff(old, new, CONTEXT_WORDS)
    assert marks(cut) == marks(spans)
