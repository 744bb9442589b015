"""Eligibility criteria rewritten in plain English: faithful, explained once, readable."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import load_fixture, plain_words
from oracle import oracle_problems

from watcher.core.glossary import Glossary, glossary_from_json
from watcher.core.readability import flesch_kincaid_grade, flesch_kincaid_grade_of, syllables
from watcher.core.rewrite import SHOWN_AS_WRITTEN, PlainItem, rewrite_criteria, rewrite_item
from watcher.data import load_glossary

ROOT = Path(__file__).resolve().parent.parent
SHARED_GLOSSARY = ROOT.parent / "shared" / "glossary"
GLOSSARY = load_glossary()
DEMO = "NCT07310784__reconstructed-from-public-page.json"


def plain(text: str, glossary: Glossary = GLOSSARY) -> str:
    result = rewrite_item(text, glossary)
    assert not result.shown_as_written, result.problems
    return result.plain


@pytest.fixture(scope="module")
def demo() -> list[PlainItem]:
    criteria = load_fixture(DEMO)["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]
    return rewrite_criteria(criteria, GLOSSARY)


def test_demo_trial_keeps_every_item_in_place(demo: list[PlainItem]) -> None:
    """NCT07310784: all 29 items are there, in their sections, none had to fall back."""
    assert [item.section for item in demo] == ["inclusion"] * 11 + ["exclusion"] * 18
    assert not [item.original for item in demo if item.shown_as_written]


def test_demo_trial_reads_its_scale_comparators_and_grades_plainly(demo: list[PlainItem]) -> None:
    """'ECOG 0-1', '\\>3 months' and 'grade ≤1' read as a patient would say them."""
    assert demo[1].plain == "Expected survival time more than 3 months;"
    assert demo[2].plain == "ECOG performance status 0 to 1;"  # a scale keeps its name
    [ecog] = demo[2].terms
    assert ecog.term == "ECOG performance status"
    assert "Lower is better" in ecog.meaning
    assert [level for level, _ in ecog.levels] == ["0", "1"]
    assert ecog.levels[0][1].startswith("Fully active.")
    read = " ".join(demo[12].units)
    assert "grade 1 or lower (CTCAE V5.0)" in read
    assert "restored to grade 2 as" in read


def test_demo_trial_keeps_nested_items_under_their_parent(demo: list[PlainItem]) -> None:
    """The three sub-bullets stay under 'Patients with unresectable … melanoma …:'."""
    parent = demo[3]
    assert parent.original.endswith("two lines of standard treatment:")
    assert [(i.label, i.depth, i.parent) for i in demo[4:7]] == [
        ("4.1", 1, parent.original),
        ("4.2", 1, parent.original),
        ("4.3", 1, parent.original),
    ]
    assert "PD-1 antibody treatment" in demo[4].plain
    assert demo[5].plain.startswith("If the BRAF V600 ")  # V600 stays in sight


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("Survival >3 months", "Survival more than 3 months"),
        ("Grade greater than (>) 1", "Grade greater than (>) 1"),
        ("Count ≥1500/µL", "Count at least 1500/µL"),
        ("Level < 2 mg/dL", "Level less than 2 mg/dL"),
        ("Interval ≤ 470 ms", "Interval no more than 470 ms"),
        ("Age: ≥ 18 years of age", "Age: 18 years of age or older"),
        ("aged ≥18 years", "Aged 18 years or older"),
        ("Age≥18 years old;", "Age 18 years old or older;"),
        ("Patients < 12 years", "Patients younger than 12 years"),  # the age rule keeps its words
        ("Patients < 12 years from diagnosis", "People less than 12 years from diagnosis"),
        ("for patients > 16 years of age", "for patients older than 16 years of age"),
        (
            "No known active disease ≥ 2 years before",
            "No known active disease at least 2 years before",
        ),
        ("Patients >= 365 days from diagnosis", "People at least 365 days from diagnosis"),
        ("Grade ≥ 2 neuropathy", f"Grade 2 or higher {plain_words('neuropathy')}"),
        ("≥ Grade 3 bleeding", "Grade 3 or higher bleeding"),
        (
            "arrhythmia of Grade >2",
            f"{plain_words('arrhythmia').capitalize()} of Grade higher than 2",
        ),
        ("NYHA Class ≥ II", "NYHA Class II or higher"),
        ("ECOG PS of ≤1 within 7 days", "ECOG PS of 1 or lower within 7 days"),
        ("Karnofsky ≥ 70%", "Karnofsky 70% or higher"),
        ("KPS score≥70;", "KPS score 70 or higher;"),  # NCT06604689: no space in the source
        (
            "Karnofsky performance status ≥ 70%",
            "Karnofsky performance status 70% or higher",
        ),
        ("18 ~75 years old", "18 to 75 years old"),
        ("Level ≤ 3 x ULN", f"Level no more than 3 times the {plain_words('ULN')}"),
    ],
)
def test_comparators_ranges_ages_and_scales(original: str, expected: str) -> None:
    """Each comparator keeps its direction and whether the limit itself counts."""
    assert plain(original) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Prior anti-PD-1 or CTLA-4 therapy",
        "COVID-19 vaccination",
        "BRAF V600E, KRAS G12C or HER2-positive disease per RECIST1.1 and CTCAE V5.0",
        "Enrolled in NCT01234567 on 2020-01-15",
        "Randomised 1:1",
        "ANC ≥ 1.5 x 10^9/L",
    ],
)
def test_protected_tokens_reach_the_reader_unchanged(text: str) -> None:
    """Gene, variant, version, trial and date tokens are never split or turned into ranges."""
    result = plain(text)
    for token in (
        "PD-1",
        "CTLA-4",
        "COVID-19",
        "V600E",
        "G12C",
        "RECIST1.1",
        "V5.0",
        "NCT01234567",
    ):
        assert (token in text) == (token in result)
    assert " to " not in result


def test_plain_words_stand_alone_and_a_term_is_listed_the_first_time_only() -> None:
    """Plain words replace the term in every item, without the term beside them; the term is
    listed once, with the plain words it was read as."""
    items = rewrite_criteria(
        "Exclusion Criteria:\n\n* Known malignancy\n* Any malignancy of the skin", GLOSSARY
    )
    cancer = plain_words("malignancy")
    assert [i.plain for i in items] == [f"Known {cancer}", f"Any {cancer} of the skin"]
    assert [(hit.term, hit.plain) for hit in items[0].terms] == [("malignancy", cancer)]
    assert items[1].terms == ()


def test_the_longest_glossary_term_wins() -> None:
    """'central nervous system metastases' is one term, not 'metastases' alone."""
    words = plain_words("central nervous system metastases", plural=True)
    assert plain("Active central nervous system metastases") == f"Active {words}"


def test_everyday_words_are_swapped_in_every_item_they_appear_in() -> None:
    """'prior' reads the everyday word in each item, even inside a noun phrase; nothing listed."""
    items = rewrite_criteria(
        "Exclusion Criteria:\n\n* Prior therapy with PD-1 antibody\n* Prior malignancy", GLOSSARY
    )
    before, treatment = plain_words("prior").capitalize(), plain_words("therapy")
    assert [i.plain for i in items] == [
        f"{before} {treatment} with PD-1 antibody",
        f"{before} {plain_words('malignancy')}",
    ]
    assert items[0].terms == ()
    assert [hit.term for hit in items[1].terms] == ["malignancy"]


def test_a_capitalised_word_gets_a_capitalised_everyday_word() -> None:
    """A sentence that starts mid-item still starts with a capital; plurals stay plural."""
    result = rewrite_item("Done at Screening. Participants meet all criteria", GLOSSARY)
    people, rules = plain_words("participants", plural=True), plain_words("criteria")
    assert result.units == ("Done at Screening.", f"{people.capitalize()} meet all {rules}")


@pytest.mark.parametrize(
    "text",
    [
        "In the investigator's opinion",  # before a possessive
        "Any therapies (prior) are allowed",  # inside parentheses
    ],
)
def test_everyday_words_stay_where_a_swap_would_not_read_well(text: str) -> None:
    """Where the everyday word cannot stand in place, the trial's word stays."""
    result = rewrite_item(text, GLOSSARY)
    swapped = {hit.term.casefold() for hit in result.terms if hit.everyday}
    assert not swapped & {"prior", "investigator"}


def test_unknown_abbreviations_are_left_alone() -> None:
    """An abbreviation the glossary does not know is never guessed at."""
    assert plain("Known XYZ-free interval and ES-SCLC") == "Known XYZ-free interval and ES-SCLC"


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("Counts (platelets) normal", "platelets"),  # inside parentheses
        ("Absolute neutrophil count (ANC) normal", "Absolute neutrophil count"),  # abbr follows
        (  # a clause cannot stand before a noun
            "Any central nervous system metastases treatment",
            "central nervous system metastases",
        ),
    ],
)
def test_terms_that_cannot_be_replaced_gracefully_are_only_defined(text: str, term: str) -> None:
    """The words stay as written, and the meaning is still listed."""
    result = rewrite_item(text, GLOSSARY)
    assert result.plain == text
    assert term in [hit.term for hit in result.terms]


def test_a_rewrite_that_fails_a_check_is_shown_as_written() -> None:
    """With a glossary whose plain words add a number, the item falls back, marked."""
    data = json.loads(json.dumps(_packaged_json()))
    for term in data["terms"]:
        if term["id"] == "malignancy":
            term["plain"] = "cancer within 5 years"
    broken = glossary_from_json(data)
    result = rewrite_item("Prior malignancy", broken)
    assert result.shown_as_written
    assert result.plain == "Prior malignancy" + SHOWN_AS_WRITTEN
    assert result.terms == ()
    assert "numbers differ" in result.problems


@pytest.mark.slow
def test_every_sent_rewrite_of_every_record_keeps_what_an_independent_reading_finds(
    plain_corpus: list[PlainItem],
) -> None:
    """Across all recorded trials, each sent rewrite keeps the digits, comparators, negations,
    names and words an independent reading finds, and at most 15% of items fall back."""
    sent = [item for item in plain_corpus if not item.shown_as_written]
    changed = [
        (item.original, item.plain, problems)
        for item in sent
        if (problems := oracle_problems(item.original, item.pieces))
    ]
    assert changed == []
    assert sum(item.plain != item.original for item in sent) >= 500, "too few rewrites to judge"
    fallbacks = len(plain_corpus) - len(sent)
    assert fallbacks / len(plain_corpus) <= 0.15


def _packaged_json() -> Any:
    return json.loads((ROOT / "watcher" / "data" / "glossary.json").read_text(encoding="utf-8"))


def test_glossary_is_read_once_from_the_package() -> None:
    """Loading twice gives the same object, with terms, scales and negation cues."""
    assert load_glossary() is GLOSSARY
    assert GLOSSARY.term("ecog_ps").meaning.startswith("A 0 to 5 score")
    assert GLOSSARY.levels("ecog")["0"].startswith("Fully active")
    assert "no evidence of" in GLOSSARY.negation_cues


def test_glossary_plain_words_cannot_blind_the_checker() -> None:
    """No plain wording holds a digit, which the checker counts in the rewrite."""
    assert not [
        t.id
        for t in GLOSSARY.terms
        for p in (t.plain, t.plain_plural or "")
        if any(c.isdigit() for c in p)
    ]


def test_negation_licence_travels_with_the_glossary() -> None:
    """The MIT notice of the negspacy cue lists is shipped beside the data that uses it."""
    licence = (ROOT / "watcher" / "data" / "LICENSE-negspacy.txt").read_text(encoding="utf-8")
    assert "Copyright (c) 2019 Jeno Pizarro" in licence
    assert "LICENSE-negspacy.txt" in _packaged_json()["_licences"]["negation"]


def build_check(shared: Path) -> subprocess.CompletedProcess[str]:
    tool = ROOT / "tools" / "build_glossary.py"
    command = [sys.executable, str(tool), "--check", "--shared", str(shared)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


needs_shared = pytest.mark.skipif(
    not SHARED_GLOSSARY.is_dir(), reason="../shared/glossary is not beside the checkout"
)


@needs_shared
def test_committed_glossary_is_what_the_build_tool_makes() -> None:
    """The packaged data is exactly what tools/build_glossary.py builds from the shared folder."""
    result = build_check(SHARED_GLOSSARY)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_shared
def test_build_check_notices_a_changed_source(tmp_path: Path) -> None:
    """When a shared glossary file changes, the check says the committed data is stale."""
    shared = tmp_path / "glossary"
    shutil.copytree(SHARED_GLOSSARY, shared)
    ecog = shared / "ecog_performance_status.json"
    ecog.chmod(0o644)
    data = json.loads(ecog.read_text(encoding="utf-8"))
    data["levels"][0]["plain"] = "Fully active."
    ecog.write_text(json.dumps(data), encoding="utf-8")
    result = build_check(shared)
    assert result.returncode == 1
    assert "watcher/data/glossary.json is not what" in result.stdout


@pytest.mark.parametrize(
    ("word", "count"),
    [
        ("the", 1),
        ("table", 2),
        ("confirmed", 2),
        ("histologically", 6),
        ("ECOG", 4),
        ("PD-1", 3),
        ("1.5", 2),
    ],
)
def test_syllable_heuristic(word: str, count: int) -> None:
    """The documented syllable rules count common criteria words as they are spoken."""
    assert syllables(word) == count


def test_flesch_kincaid_grade_follows_the_formula() -> None:
    """Short plain sentences score low, long jargon scores high, no words scores 0."""
    # 6 words, 1 sentence, 6 syllables: 0.39 * 6 + 11.8 * 1 - 15.59
    assert flesch_kincaid_grade("The cat sat on the mat.") == pytest.approx(-1.45)
    jargon = "Histologically or cytologically confirmed metastatic adenocarcinoma"
    assert flesch_kincaid_grade(jargon) > 20
    assert flesch_kincaid_grade("—") == 0.0


def test_list_items_are_graded_as_the_sentences_they_are_shown_as() -> None:
    """Items without a full stop are one sentence each, not one long run-on sentence."""
    items = ["The cat sat", "The dog ran", "The bird sang"]
    # 9 words, 3 sentences, 9 syllables: 0.39 * 3 + 11.8 * 1 - 15.59
    assert flesch_kincaid_grade_of(items) == pytest.approx(-2.62)
    assert flesch_kincaid_grade(" ".join(items)) > flesch_kincaid_grade_of(items)
    assert flesch_kincaid_grade_of(["", "—"]) == 0.0


def test_decimal_points_and_lower_case_abbreviations_do_not_end_sentences() -> None:
    """'1.5' and 'e.g. a CT' stay in one sentence; '. Then' starts another."""
    one = flesch_kincaid_grade("Take 1.5 mg e.g. daily with food")
    two = flesch_kincaid_grade("Take 1.5 mg daily. Then eat food")
    assert one > two


def test_an_article_is_fixed_to_fit_the_plain_words() -> None:
    """'an immunosuppressive drug' reads 'a …' when the plain words start with a consonant."""
    words = plain_words("immunosuppressive drug")
    assert plain("Taking an immunosuppressive drug") == f"Taking a {words}"


@pytest.mark.parametrize(
    "text",
    [
        "Signed Informed Consent Form",  # a capitalised name: a form's title
        "Known allergic hypersensitivity to the drug",  # "allergic allergy"
        "Number of participant(s) enrolled",  # glued to "(s)"
    ],
)
def test_words_stay_where_a_swap_would_break_a_name_or_double_a_word(text: str) -> None:
    """Inside a capitalised name, beside the same word, or before an apostrophe, the trial's
    words stay; no word is ever written twice."""
    result = rewrite_item(text, GLOSSARY)
    assert not result.shown_as_written
    words = result.plain.casefold().split()
    assert all(a != b for a, b in itertools.pairwise(words))
    assert "Consent Form" in result.plain or "Consent" not in text
    assert "allergic allergy" not in result.plain.casefold()
    assert "participant(s)" in result.plain or "participant" not in text


def test_a_term_explained_before_is_not_listed_again_and_the_kept_rewrite_is_not_changed() -> None:
    """An item is rewritten once and kept; what was explained before it only takes terms off
    its list, in that call: the same item read first again lists them all."""
    text = "Total bilirubin <= 1.5 x ULN and AST and ALT <= 2.5 x ULN"
    first = rewrite_item(text, GLOSSARY)
    ids = [hit.id for hit in first.terms]
    assert len(ids) >= 2, first.terms  # the item does name terms: the filter is tested
    later = rewrite_item(text, GLOSSARY, frozenset(ids[::2]))
    assert [hit.id for hit in later.terms] == ids[1::2]
    assert (later.plain, later.units, later.pieces) == (first.plain, first.units, first.pieces)
    assert rewrite_item(text, GLOSSARY) == first
