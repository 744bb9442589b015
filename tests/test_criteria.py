"""Eligibility criteria split into the items a reader sees, with sections and nesting."""

from __future__ import annotations

import re

import pytest
from conftest import all_fixture_records, load_fixture
from hypothesis import given
from hypothesis import strategies as st

from watcher.core.criteria import SECTIONS, Criterion, normalise, parse_criteria

DEMO = "NCT07310784__reconstructed-from-public-page.json"
# Words a reader never sees as criteria: list markers and the words of a bare section heading.
_MARKER_OR_HEADING_WORD = (
    r"[*+•●o-]+|\(?(\d{1,3}|[a-zA-Z]|[ivxIVX]+)[.)]"
    r"|(?i:(key|main)?(inclusion|exclusion|eligibility)?(criteria|criterion)?:?)"
)


def criteria_of(name: str) -> str:
    text: str = load_fixture(name)["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]
    return text


def every_criteria_text() -> list[tuple[str, str]]:
    out = []
    for path in all_fixture_records():
        module = load_fixture(path.name)["protocolSection"].get("eligibilityModule", {})
        if module.get("eligibilityCriteria"):
            out.append((path.name, module["eligibilityCriteria"]))
    return out


def test_normalise_unescapes_commonmark() -> None:
    """Registry escapes such as \\> and \\[ never reach the reader."""
    assert normalise(r"survival \>3 months \[CNS\] 1\. item a\_b") == (
        "survival >3 months [CNS] 1. item a_b"
    )


def test_normalise_keeps_a_backslash_that_escapes_nothing() -> None:
    """A backslash before a letter is text, not an escape, so it stays."""
    assert normalise(r"C:\data") == r"C:\data"


def test_normalise_turns_full_width_forms_and_odd_spaces_into_ascii() -> None:
    """Full-width comparators, punctuation and no-break spaces read as their plain forms."""
    full_width = "年龄\uff1e18\uff08岁\uff09\uff1bECOG\u00a0≦1\uff0cANC≧1.5"
    assert normalise(full_width) == "年龄>18(岁);ECOG ≤1,ANC≥1.5"


def test_normalise_keeps_lines_and_indentation() -> None:
    """Line breaks and indentation survive, because they carry the nesting."""
    assert normalise("* a:\r\n\r\n\t* b") == "* a:\n\n    * b"


def test_no_text_means_no_items() -> None:
    """A record without criteria has no items rather than an error."""
    assert parse_criteria(None) == []
    assert parse_criteria("") == []
    assert parse_criteria("\n  \n") == []


def test_demo_record_items_sections_and_nesting() -> None:
    """NCT07310784: every item is there, in its section, with the sub-bullets under their parent."""
    items = parse_criteria(criteria_of(DEMO))
    inclusion = [c for c in items if c.section == "inclusion"]
    exclusion = [c for c in items if c.section == "exclusion"]
    assert (len(inclusion), len(exclusion), len(items)) == (11, 18, 29)
    assert inclusion[1] == Criterion("inclusion", "Expected survival time >3 months;", 0, None, "2")
    assert inclusion[2].text == "ECOG performance status 0-1;"
    parent = inclusion[3]
    assert parent.text.endswith("failed at least two lines of standard treatment:")
    children = inclusion[4:7]
    assert [c.label for c in children] == ["4.1", "4.2", "4.3"]
    assert all(c.depth == 1 and c.parent == parent.text for c in children)
    assert (
        children[0].text
        == "Patients need to have failed or be intolerant to PD-1 antibody treatment;"
    )
    assert inclusion[7] == Criterion(
        "inclusion",
        "Patients have lesions that can be used for surgical resection or biopsy puncture;",
        0,
        None,
        "5",
    )
    assert "grade ≤1(CTCAE V5.0)" in exclusion[1].text


def test_items_are_never_split_on_semicolons_or_sentences() -> None:
    """A criterion with several sentences or clauses stays one item."""
    text = (
        "Exclusion Criteria:\n\n* Brain metastases; or CNS disease. Patients who are stable join."
    )
    assert [c.text for c in parse_criteria(text)] == [
        "Brain metastases; or CNS disease. Patients who are stable join."
    ]


def test_numbered_and_lettered_items_keep_their_labels() -> None:
    """Numbers and letters as written become the item's label, nested ones joined with a dot."""
    text = "Inclusion Criteria\n\n1. Adults\n2. Organ function:\n\n   a. ANC\n   b. PLT\n3. Consent"
    items = parse_criteria(text)
    assert [(c.label, c.depth, c.parent) for c in items] == [
        ("1", 0, None),
        ("2", 0, None),
        ("2.a", 1, "Organ function:"),
        ("2.b", 1, "Organ function:"),
        ("3", 0, None),
    ]


def test_text_before_any_heading_is_other() -> None:
    """Lines before the first heading belong to no section, so they are 'other'."""
    items = parse_criteria("Note: other criteria may apply.\n\nInclusion Criteria:\n\n* Adults")
    assert [(c.section, c.text) for c in items] == [
        ("other", "Note: other criteria may apply."),
        ("inclusion", "Adults"),
    ]


def test_a_heading_glued_to_the_sentence_before_it_is_still_a_heading() -> None:
    """'…may apply.Inclusion Criteria:' starts the inclusion section."""
    text = "Note: Other Inclusion/Exclusion criteria may apply.Inclusion Criteria:\n\n* Adults"
    items = parse_criteria(text)
    assert [(c.section, c.text) for c in items] == [
        ("other", "Note: Other Inclusion/Exclusion criteria may apply."),
        ("inclusion", "Adults"),
    ]


@pytest.mark.parametrize(
    ("heading", "section"),
    [
        ("Inclusion Criteria:", "inclusion"),
        ("INCLUSION CRITERIA", "inclusion"),
        ("Key exclusion Criteria:", "exclusion"),
        ("Exclusion criteria", "exclusion"),
        ("Eligibility criteria:", "other"),
    ],
)
def test_bare_headings_switch_section_without_becoming_items(heading: str, section: str) -> None:
    """A heading that only names the section is not shown as a criterion."""
    assert parse_criteria(f"{heading}\n\n* Adults") == [Criterion(section, "Adults", 0, None, "1")]


def test_a_heading_that_says_more_is_kept_as_the_parent_of_its_items() -> None:
    """'Inclusion Criteria for Sub Study 2:' limits who its items apply to, so it stays."""
    text = (
        "Inclusion Criteria:\n\n* Adults\n\nInclusion Criteria for Sub Study 2\n\n* PD-L1 TPS ≥ 1%"
    )
    items = parse_criteria(text)
    assert [(c.section, c.text, c.depth, c.parent) for c in items] == [
        ("inclusion", "Adults", 0, None),
        ("inclusion", "Inclusion Criteria for Sub Study 2", 0, None),
        ("inclusion", "PD-L1 TPS ≥ 1%", 1, "Inclusion Criteria for Sub Study 2"),
    ]
    assert [c.label for c in items] == ["1", "2", "2.1"]


def test_a_paragraph_ending_in_a_colon_introduces_the_list_under_it() -> None:
    """'For parent participants:' owns the bullets after it, until the next such paragraph."""
    text = (
        "For adolescents:\n\n* Grades 9-12\n* Consent\n\n"
        "For parents:\n\n* Speaks English\n\nAll participants must agree."
    )
    items = parse_criteria(text)
    assert [(c.text, c.depth, c.parent) for c in items] == [
        ("For adolescents:", 0, None),
        ("Grades 9-12", 1, "For adolescents:"),
        ("Consent", 1, "For adolescents:"),
        ("For parents:", 0, None),
        ("Speaks English", 1, "For parents:"),
        ("All participants must agree.", 0, None),
    ]


def test_a_list_item_ending_in_a_colon_does_not_swallow_its_siblings() -> None:
    """Items at the same indent stay siblings: only indentation nests list items."""
    items = parse_criteria("* Any evidence of:\n* Severe disease")
    assert [(c.depth, c.parent) for c in items] == [(0, None), (0, None)]


def test_an_indented_note_belongs_to_the_item_above() -> None:
    """A paragraph indented under a numbered item is shown under that item."""
    text = "1. Hepatitis B infection\n\n   Note: resolved infection is allowed.\n\n2. Consent"
    items = parse_criteria(text)
    assert [(c.label, c.depth, c.parent) for c in items] == [
        ("1", 0, None),
        ("1.1", 1, "Hepatitis B infection"),
        ("2", 0, None),
    ]


def test_escaped_markers_are_markers_once_unescaped() -> None:
    """'1\\. Item' and '\\- item' are list items, as CommonMark shows them."""
    items = parse_criteria("1\\. Adults\n\n  \\- sub point")
    assert [(c.text, c.label, c.depth) for c in items] == [
        ("Adults", "1", 0),
        ("sub point", "1.1", 1),
    ]


@pytest.mark.parametrize(("name", "text"), every_criteria_text(), ids=lambda v: v[:24])
def test_every_line_of_every_record_is_kept(name: str, text: str) -> None:
    """No criterion of any recorded trial is lost: each line's words are in exactly one item."""
    shown = set(" ".join(c.text for c in parse_criteria(text)).split())
    for word in set(normalise(text).split()) - shown:
        assert re.fullmatch(_MARKER_OR_HEADING_WORD, word), (name, word)


@pytest.mark.parametrize(("name", "text"), every_criteria_text(), ids=lambda v: v[:24])
def test_re_escaping_and_respacing_gives_the_same_items(name: str, text: str) -> None:
    """A record the registry re-escapes or re-spaces yields the very same items."""
    escaped = re.sub(r"([<>\[\]])", r"\\\1", normalise(text)).replace(", ", ",  ")
    escaped = escaped.replace(" ", "\u00a0")
    assert parse_criteria(escaped.replace("\n", "\r\n")) == parse_criteria(text), name


@given(st.text())
def test_any_text_parses_into_well_formed_items(text: str) -> None:
    """Whatever the registry sends, parsing never crashes and every item is well formed."""
    for item in parse_criteria(text):
        assert item.section in SECTIONS
        assert item.text and item.text == " ".join(item.text.split())
        assert (item.depth == 0) == (item.parent is None)
        assert item.label
