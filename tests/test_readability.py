"""The fair measure of issue 13 counts what a patient reads the way a patient reads it.

Every figure the readability target is judged by (`bench/plain_english.py`) comes from these
rules, so each is pinned on real criteria text: units split where a reader pauses and nowhere
else, names and abbreviations one syllable, hyphenated words split, parentheses counted, hard
words by the Dale-Chall rules, doubled words found.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import load_fixture

from watcher.core.criteria import parse_criteria
from watcher.core.readability import (
    Word,
    doubled_words,
    fair_grade,
    flesch_kincaid_grade,
    is_hard,
    names_from,
    reading_of,
    units_of,
    words_of,
)
from watcher.core.record import parse_trial

SEED = "NCT07310784__reconstructed-from-public-page.json"
SOLID_TUMOURS = "NCT06242470__partrita-tigit__2026-02-10__ed22b557.json"
ALLERGY = "NCT04897321__partrita-tigit__HEAD-2026-03-15.json"


def item_starting(record: str, start: str) -> str:
    """The criteria item of a recorded trial that starts with `start`."""
    criteria = load_fixture(record)["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]
    return next(c.text for c in parse_criteria(criteria) if c.text.startswith(start))


def test_a_long_sentence_of_a_real_record_is_one_unit_over_20_words() -> None:
    """The seed trial's 53-word history-of-cancer item has no pause: one long unit."""
    text = item_starting(SEED, "A history of other malignant tumors")
    reading = reading_of([text])
    assert len(reading.units) == 1
    assert reading.words > 50
    assert reading.long_units() == 1
    # A semicolon planted before "excluding" makes two units: a short one, and one still long.
    split = text.replace(", excluding", "; excluding")
    assert [len(unit) for unit in reading_of([split]).units] == [11, 42]
    assert fair_grade(split) < fair_grade(text)


def test_units_split_at_end_marks_semicolons_colons_and_line_breaks() -> None:
    """'. ; : ! ?' and line breaks end a unit; the units keep every word."""
    text = item_starting(SOLID_TUMOURS, "Unresectable, locally advanced or metastatic solid")
    units = units_of(text)
    assert units[0].endswith("including:")
    assert len(units) == 2
    assert units_of("Age 18 or older; able to swallow\nSigned consent! Pregnant? No") == [
        "Age 18 or older;",
        "able to swallow",
        "Signed consent!",
        "Pregnant?",
        "No",
    ]


def test_decimal_points_ratios_and_abbreviations_do_not_end_a_unit() -> None:
    """'RECIST v1.1. Participants' ends after v1.1 and not inside it; 'e.g.', '1:1' and an end
    mark before lower case do not end a unit."""
    text = item_starting("NCT06242470__partrita-tigit__2026-02-05__62edf6a6.json", "Measurable")
    assert units_of(text) == [
        "Measurable disease per RECIST v1.1.",
        "Participants with metastatic CRPC without measurable disease are eligible.",
    ]
    allergy = item_starting(ALLERGY, "Severe intercurrent")
    assert "(e.g. active hepatitis B" in allergy
    assert len(units_of(allergy)) == 1
    assert len(units_of("Randomised 1:1 to arm A or B, dose 1.5 mg vs. placebo etc. and more")) == 1


def test_the_trials_own_names_count_one_syllable() -> None:
    """'non-small cell lung cancer' is a condition of NCT06242470: five words of one syllable
    each there, more without the record's names; a hyphen and a space match alike."""
    trial = parse_trial(load_fixture(SOLID_TUMOURS))
    names = names_from(trial.conditions)
    text = item_starting(SOLID_TUMOURS, "Unresectable, locally advanced or metastatic solid")
    assert "non-small cell lung cancer" in text
    with_names = reading_of([text], names)
    without = reading_of([text])
    assert with_names.words == without.words
    assert with_names.grade < without.grade
    listed = [(w.text, w.syllables) for w in with_names.units[1]]
    at = listed.index(("non", 1), listed.index(("squamous", 2), 12))
    assert listed[at : at + 5] == [
        ("non", 1),
        ("small", 1),
        ("cell", 1),
        ("lung", 1),
        ("cancer", 1),
    ]
    # A name matches as a whole phrase: "Prostatic Cancer" is not "prostate cancer".
    at = listed.index(("prostate", 2))
    assert listed[at + 1] == ("cancer", 2)
    assert words_of("Carcinoma of the Non-Small-Cell Lung", names_from(["Carcinoma, x"]))[0].name
    assert not words_of("carcinomatosis", names_from(["Carcinoma"]))[0].name


def test_two_capitals_or_a_digit_make_a_one_syllable_word() -> None:
    """ECOG is read as one token, not spelled out as Flesch-Kincaid counts it."""
    assert [w.syllables for w in words_of("ECOG HER2 100 HbA1c eGFR")] == [1, 1, 1, 1, 1]
    assert all(w.name for w in words_of("ECOG HER2 100"))
    assert words_of("Hepatitis")[0] == Word("Hepatitis", 4, name=False)
    assert fair_grade("ECOG 0 to 1") < flesch_kincaid_grade("ECOG 0 to 1")


def test_hyphenated_words_are_split_and_parentheses_counted() -> None:
    """'Daily-activity' is two words; the original term in parentheses is read, so counted."""
    assert [w.text for w in words_of("Daily-activity score (ECOG performance status)")] == [
        *("Daily", "activity", "score", "ECOG", "performance", "status"),
    ]
    assert reading_of(["People (Participants) may join"]).words == 4
    assert fair_grade("People (Participants) may join") > fair_grade("People may join")


def test_the_fair_grade_follows_the_flesch_kincaid_formula() -> None:
    """Plain prose with no names scores as Flesch-Kincaid does; no words score 0."""
    # 6 words, 1 unit, 6 syllables: 0.39 * 6 + 11.8 * 1 - 15.59
    assert fair_grade("The cat sat on the mat.") == pytest.approx(-1.45)
    # 8 words, 2 units, 8 syllables: 0.39 * 4 + 11.8 - 15.59
    assert fair_grade("The cat sat down; the dog ran off.") == pytest.approx(-2.23)
    assert fair_grade("—") == 0.0


def test_hard_words_follow_dale_chall() -> None:
    """Unfamiliar and longer than one syllable is hard; a regular form of an easy word, a one
    syllable word and a name are not."""
    easy = frozenset({"need", "try", "big", "stop", "use"})
    hard = [
        w.text
        for w in words_of("Participants needed trying bigger stopped usage ECOG lung thrombosis")
        if is_hard(w, easy)
    ]
    assert hard == ["Participants", "usage", "thrombosis"]
    names = names_from(["Thrombosis"])
    assert reading_of(["lung thrombosis"], names).hard_words(easy) == []


def test_doubled_words_are_found_in_any_case() -> None:
    """The defects the issue quotes are caught; 'allergic allergy' is not a doubled word."""
    assert doubled_words("Stage IV liver Liver scarring (cirrhosis)") == ["liver"]
    assert doubled_words("chemotherapy treatment treatment plan (regimen)") == ["treatment"]
    assert doubled_words("Known allergic allergy (hypersensitivity)") == []
    assert doubled_words("grade 1 1") == []


@pytest.mark.slow
def test_the_benchmark_reports_every_part_as_json() -> None:
    """`bench/plain_english.py --json` measures every recorded trial; the registry's own text
    is far above grade 8, as the issue measured it, and the bench exits 0 though targets fail."""
    bench = Path(__file__).parent.parent / "bench" / "plain_english.py"
    done = subprocess.run(
        [sys.executable, str(bench), "--json"], capture_output=True, text=True, check=True
    )
    figures = json.loads(done.stdout)
    criteria = figures["criteria"]
    assert criteria["records"] > 80
    assert criteria["source"]["grade"]["median"] > 10
    assert 0 < criteria["patient"]["long_units"]["all"] < 1
    assert figures["change_sentences"]["change_sets"] > 10
    ranked = subprocess.run(
        [sys.executable, str(bench), "--rank", "20", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    top = json.loads(ranked.stdout)
    assert len(top) == 20
    assert top == sorted(top, key=lambda r: -r["cost"])
    assert all(r["cost"] == r["count"] * (r["syllables"] - len(r["phrase"].split())) for r in top)
