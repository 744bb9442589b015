"""Registry text cleaned at the edge (`watcher.core.clean`): what goes, what stays."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from conftest import all_fixture_records
from hypothesis import example, given
from hypothesis import strategies as st

from watcher.core.clean import clean_record, clean_text, missing_parts

UNSAFE = [chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0))]
UNSAFE += ["\u2028", "\u2029", "\ud800", "\udfff", "\ufffe", "\uffff"]


def test_single_line_text_loses_every_break_and_control() -> None:
    """A title keeps its words; breaks become spaces, controls go, surrogates become U+FFFD."""
    assert clean_text("A\r\nB\tC\vD\fE\u2028F\u2029G\x85H") == "A B C D E F G H"
    assert clean_text("bold\x1b[1m\x00\x7f\x9b") == "bold[1m"
    assert clean_text("half \ud83d pair") == "half \ufffd pair"


def test_paragraphs_keep_tab_and_newline_and_normalise_other_breaks() -> None:
    """Eligibility criteria keep their lines; CR LF and U+2028 become one newline each."""
    text = "Inclusion:\r\n\t* adults\u2028* consent\x00\n"
    assert clean_text(text, multiline=True) == "Inclusion:\n\t* adults\n* consent\n"
    record = {"eligibilityModule": {"eligibilityCriteria": text, "sex": "ALL\n"}}
    cleaned = clean_record(record)["eligibilityModule"]
    assert cleaned["eligibilityCriteria"].count("\n") == 3 and cleaned["sex"] == "ALL "


@given(st.text())
def test_cleaning_leaves_nothing_unsafe_and_is_idempotent(text: str) -> None:
    for multiline in (False, True):
        once = clean_text(text, multiline=multiline)
        assert not any(c in once for c in UNSAFE)
        assert multiline or ("\n" not in once and "\t" not in once)
        assert clean_text(once, multiline=multiline) == once
        once.encode("utf-8")  # no lone surrogate left


TEXT = st.text(st.sampled_from(["a", " ", "\n", "\t", "\r", "\x00", "\xa0", "\u2028", "\ud800"]))
KEYS = st.sampled_from(["title", "eligibilityCriteria", "armGroupDescription", "a\tb"]) | TEXT
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)


def _unsafe(value: Any, key: str = "") -> bool:
    """Does any string of `value` (keys too) hold what cleaning removes?"""
    if isinstance(value, str):
        single = key != "eligibilityCriteria" and not key.endswith("escription")
        return any(c in value for c in UNSAFE) or (single and ("\n" in value or "\t" in value))
    if isinstance(value, dict):
        return any(_unsafe(k, "key") or _unsafe(v, k) for k, v in value.items())
    if isinstance(value, list):
        return any(_unsafe(item, key) for item in value)
    return False


@given(JSON, st.sampled_from(["title", "eligibilityCriteria", "armGroupDescription"]))
@example({"briefTitle": "a\nb"}, "eligibilityCriteria")  # a title under a paragraph's key
@example({"keywords": ["a\tb"]}, "eligibilityCriteria")  # items take their list's key
@example({"a\x00": 1}, "title")
def test_a_record_is_cleaned_into_a_copy_or_kept_when_already_clean(value: Any, key: str) -> None:
    """A record with nothing to clean comes back as it is (not copied); any other comes back
    clean and the record handed in is left untouched."""
    before = copy.deepcopy(value)
    cleaned = clean_record(value, key)
    assert value == before
    assert not _unsafe(cleaned, key)
    assert clean_record(cleaned, key) is cleaned
    if not _unsafe(value, key):
        assert cleaned is value


@pytest.mark.slow  # the whole recorded corpus
def test_every_recorded_record_is_complete_and_already_clean() -> None:
    """No fixture changes under cleaning (so no stored hash moves), and every full record has
    the required parts; the two AACT spec excerpts without a status module are the exception."""
    incomplete = []
    for path in all_fixture_records():
        record = json.loads(path.read_text(encoding="utf-8"))
        assert clean_record(record) == record, path.name
        if missing_parts(record):
            incomplete.append(path.name.split("__")[0])
    assert incomplete == ["NCT00465816", "NCT03453554"]


def test_missing_parts_are_named() -> None:
    assert missing_parts({"protocolSection": {"identificationModule": {"nctId": "NCT1"}}}) == [
        "protocolSection.statusModule.overallStatus"
    ]
    assert len(missing_parts({})) == 2
