"""The fidelity checker lets faithful rewrites through and stops every change of meaning."""

from __future__ import annotations

import re

import pytest
from conftest import plain_words

from watcher.core.fidelity import Piece, Swap, canonical, check, negation_cues, restore
from watcher.core.glossary import glossary_from_json
from watcher.data import load_glossary

GLOSSARY = load_glossary()


def swaps(text: str) -> list[Piece]:
    """'[plain words|ORIGINAL]' marks a swap: "[cancer|malignancy]"."""
    out: list[Piece] = []
    for i, part in enumerate(re.split(r"\[([^\]|]*\|[^\]]*)\]", text)):
        if i % 2:
            plain, original = part.split("|")
            out.append(Swap(plain, original))
        elif part:
            out.append(part)
    return out


CANCER = plain_words("malignancy")
STUDY_DRUG = plain_words("investigational drug")


def small_glossary(*entries: dict[str, object]) -> object:
    """A glossary of a few terms, built the way the packaged one is read."""
    terms = [
        {"abbr": [], "render": "replace", "plain_plural": None, "explain": "", **entry}
        for entry in entries
    ]
    return glossary_from_json(
        {
            "terms": terms,
            "scales": {},
            "negation": {"cues": ["no", "not", "without"], "pseudo": []},
            "comparators": {"reverse": {"at least": ">="}},
        }
    )


@pytest.mark.parametrize(
    ("original", "plain"),
    [
        ("Expected survival time >3 months;", "Expected survival time more than 3 months;"),
        ("Known malignancy 0-1;", f"Known [{CANCER}|malignancy] 0 to 1;"),
        ("grade ≤1(CTCAE V5.0)", "grade 1 or lower (CTCAE V5.0)"),
        ("≥ Grade 2 neuropathy", "Grade 2 or higher neuropathy"),
        ("Aged ≥18 years", "Aged 18 years or older"),
        ("patients > 16 years of age", "patients older than 16 years of age"),
        ("ALT ≤ 2.5 \u00d7 ULN", "ALT no more than 2.5 times the upper limit of normal (ULN)"),
        ("No active hepatitis B", "No active hepatitis B"),
        ("Prior malignancy", f"Prior [{CANCER}|malignancy]"),
        ("an investigational drug", f"[a {STUDY_DRUG}|an investigational drug]"),
        ("18 ~75 years old", "18 to 75 years old"),
    ],
)
def test_faithful_rewrites_pass(original: str, plain: str) -> None:
    """Rewrites that keep every number, comparator, negation and name are accepted."""
    assert check(original, swaps(plain), GLOSSARY) == ()


@pytest.mark.parametrize(
    ("original", "plain", "problem"),
    [
        ("Survival >3 months", "Survival more than 6 months", "numbers differ"),
        ("Survival >3 months", "Survival more than months", "numbers differ"),
        ("ANC ≥1,500/µL", "ANC at least 1500/µL", "numbers differ"),
        ("Age ≥ 18 years", "Age more than 18 years", "comparators differ"),
        ("Age ≥ 18 years", "Age older than 18 years", "comparators differ"),
        ("Bilirubin ≤ 1.5 mg/dL", "Bilirubin less than 1.5 mg/dL", "comparators differ"),
        ("Bilirubin ≤ 1.5 mg/dL", "Bilirubin at least 1.5 mg/dL", "comparators differ"),
        ("grade ≤1", "grade 1 or higher", "comparators differ"),
        ("No active hepatitis B", "Active hepatitis B", "negations differ"),
        ("Has not received PD-1 therapy", "Has received PD-1 therapy", "negations differ"),
        ("Without brain metastases", "With brain metastases", "negations differ"),
        ("BRAF V600E mutation", "BRAF V600K mutation", "gene, variant or version tokens differ"),
        (
            "Prior anti-PD-1 therapy",
            "Prior anti-PD 1 therapy",
            "gene, variant or version tokens differ",
        ),
        ("EGFR mutation", "ALK mutation", "capitalised names differ"),
        ("RECIST1.1", "RECIST 1.2", "numbers differ"),
        (
            "Prior malignancy",
            "Prior [side effect|malignancy]",
            "words differ once the plain wording is taken out",
        ),
        ("Prior malignancy", f"Prior {CANCER}", "words differ once the plain wording is taken out"),
        (
            "Prior malignancy",
            f"Prior [{CANCER}|ALT]",
            "words differ once the plain wording is taken out",
        ),
        ("Women who are pregnant", "Women who are not yet pregnant", "negations differ"),
    ],
)
def test_each_change_of_meaning_is_caught(original: str, plain: str, problem: str) -> None:
    """A changed number, comparator, negation, gene name or wording is reported by name."""
    assert problem in check(original, swaps(plain), GLOSSARY)


def test_restore_puts_back_only_the_swaps_the_glossary_allows() -> None:
    """A swap goes back to the trial's words only when the plain words are that term's own."""
    rewrite = swaps(f"Prior [{CANCER}|malignancy] and [{CANCER}|ALT]")
    assert restore(rewrite, GLOSSARY) == f"Prior malignancy and {CANCER}"


def test_plain_words_may_add_only_the_negation_their_entry_declares() -> None:
    """'without symptoms' for 'asymptomatic' passes only when the entry says it adds 'without'."""
    entry = {"id": "asymptomatic", "match": ["asymptomatic"], "plain": "without symptoms"}
    rewrite = swaps("Brain metastases that are [without symptoms|asymptomatic]")
    original = "Brain metastases that are asymptomatic"
    assert check(original, rewrite, small_glossary({**entry, "adds": ["without"]})) == ()  # type: ignore[arg-type]
    assert "negations differ" in check(original, rewrite, small_glossary(entry))  # type: ignore[arg-type]


def test_a_swap_that_doubles_a_word_or_hides_a_number_is_caught() -> None:
    """'allergic allergy' is refused; so is plain wording that hides a number from the reader."""
    glossary = small_glossary(
        {"id": "allergy", "match": ["hypersensitivity"], "plain": "allergy"},
        {"id": "covid", "match": ["COVID-19"], "plain": "the virus"},
    )
    doubled = check(
        "Known allergy hypersensitivity",
        swaps("Known allergy [allergy|hypersensitivity]"),
        glossary,
    )  # type: ignore[arg-type]
    assert "a word is doubled" in doubled
    hidden = check("No COVID-19", swaps("No [the virus|COVID-19]"), glossary)  # type: ignore[arg-type]
    assert "numbers differ" in hidden


def test_a_source_that_already_glosses_a_term_is_read_the_same_way() -> None:
    """Text the trial wrote as 'pregnancy test (β-hCG)' is not mistaken for a rewrite."""
    original = "Negative serum pregnancy test (β-hCG) before treatment"
    assert check(original, original, GLOSSARY) == ()


def test_canonical_spells_comparators_ranges_and_multiples_one_way() -> None:
    """Symbols and plain phrases that mean the same limit compare equal."""
    assert canonical("at least 18 years", GLOSSARY) == canonical("≥18 years", GLOSSARY)
    assert canonical("18 years or older", GLOSSARY) == ">= 18 years"
    assert canonical("ECOG 0-1", GLOSSARY) == canonical("ECOG 0 to 1", GLOSSARY)
    assert canonical("2 times the upper limit of normal (ULN)", GLOSSARY) == "2 x ULN"
    assert canonical("QTc more than 450 msec or more than 480", GLOSSARY) == (
        "QTc > 450 msec or > 480"
    )


def test_negation_cues_are_read_in_order_and_pseudo_negations_ignored() -> None:
    """'no', 'not' and 'without' count in order; 'not only' and 'no change' do not."""
    assert negation_cues("no fever, not pregnant, without rash", GLOSSARY) == [
        "no",
        "not",
        "without",
    ]
    assert negation_cues("not only adults; no change in dose", GLOSSARY) == []
