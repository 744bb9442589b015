"""Each eligibility item is split where its writer paused, and nowhere else."""

from __future__ import annotations

import pytest

from watcher.core.rewrite import PlainItem
from watcher.core.units import split_units


@pytest.mark.parametrize(
    ("text", "units"),
    [
        (  # NCT07310784: a strictly detected list, one disease a line
            "Suffering from infectious diseases such as hepatitis B, hepatitis C, syphilis, AIDS;",
            (
                "Suffering from infectious diseases such as",
                "hepatitis B,",
                "hepatitis C,",
                "syphilis,",
                "AIDS;",
            ),
        ),
        (  # NCT07310784: two sentences
            "Suffering from brain metastases. Patients who have received treatment may join;",
            ("Suffering from brain metastases.", "Patients who have received treatment may join;"),
        ),
        ("Bilirubin ≤ 1.5 mg/dL; or ALT ≤ 3 x ULN", ("Bilirubin ≤ 1.5 mg/dL;", "or ALT ≤ 3 x ULN")),
        ("Age: 18 years or older", ("Age: 18 years or older",)),  # a label is not a clause
        ("Randomised 1:1 to arm A or arm B", ("Randomised 1:1 to arm A or arm B",)),
        (
            "Hemoglobin ≥ 9.0 g/dL (e.g. Hb. Transfusion allowed)",
            ("Hemoglobin ≥ 9.0 g/dL (e.g. Hb. Transfusion allowed)",),
        ),
        (
            "Other drugs, e.g. Aspirin, are not allowed",
            ("Other drugs, e.g. Aspirin, are not allowed",),
        ),
        (  # "or" before a member that is not last: not a list, one unit
            "Drugs such as A, B, or C, are not allowed",
            ("Drugs such as A, B, or C, are not allowed",),
        ),
        ("Drugs such as aspirin or heparin", ("Drugs such as aspirin or heparin",)),  # two: no list
    ],
)
def test_an_item_is_split_into_the_units_a_reader_takes_in_one_go(
    text: str, units: tuple[str, ...]
) -> None:
    """Sentences, semicolon clauses and strict lists become units; the rest stays whole."""
    assert split_units(text) == units


@pytest.mark.slow  # the whole recorded corpus
def test_units_of_every_recorded_item_are_the_item_again(plain_corpus: list[PlainItem]) -> None:
    """No word is added, lost or moved: the units joined by spaces are what the reader reads."""
    for item in plain_corpus:
        assert " ".join(item.units) == " ".join(item.plain.split())
        assert all(unit == unit.strip() and unit for unit in item.units)
    assert sum(len(item.units) > 1 for item in plain_corpus) > 100, "too few splits to judge"


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        (  # NCT06382129: no line ends on the preposition before "which"
            "Any other circumstances in which the study doctor considered it inappropriate to"
            " take part in the trial because of complications or other circumstances.",
            (
                "Any other circumstances in which the study doctor considered it inappropriate"
                " to take part in the trial",
                "because of complications or other circumstances.",
            ),
        ),
        (  # NCT04431453: "actual or possible" both say what kind of activity
            "Concurrent treatment with other drugs with actual or possible direct antiviral"
            " activity against SARS-CoV-2 less than 24 hours before study drug dosing.",
            (
                "Concurrent treatment with other drugs",
                "with actual or possible direct antiviral activity against SARS-CoV-2 less than"
                " 24 hours before study drug dosing.",
            ),
        ),
        (  # NCT05935098 (as the patient reads it): "such / as" was a break
            "Heart and blood vessel risk factors, such as blood clot in the lungs no more than"
            " 28 days or history of heart attack or heart failure no more than 6 months before"
            " the first dose of study drug(s).",
            (
                "Heart and blood vessel risk factors,",
                "such as blood clot in the lungs no more than 28 days",
                "or history of heart attack",
                "or heart failure no more than 6 months before the first dose of study drug(s).",
            ),
        ),
        (  # NCT04743661 (as the patient reads it): a clause after "and" may start a line
            "Patient must have recovered from any acute side effect potentially related to the"
            " drug and had their last dose of the investigational or biologic drug at least 7"
            " days before joining the study.",
            (
                "Patient must have recovered from any acute side effect potentially related to"
                " the drug",
                "and had their last dose of the investigational or biologic drug at least 7 days"
                " before joining the study.",
            ),
        ),
        (  # NCT06346197 (as the patient reads it): "or 3 months" starts a phrase of its own
            "Males must agree to use highly effective birth control measures throughout the study"
            " starting with the screening visit through 6 months after the end of the treatment"
            " with oxaliplatine or 3 months after the last dose for other study treatments is had.",
            (
                "Males must agree to use highly effective birth control measures throughout the"
                " study starting",
                "with the screening visit through 6 months after the end of the treatment with"
                " oxaliplatine",
                "or 3 months after the last dose for other study treatments is had.",
            ),
        ),
    ],
)
def test_a_long_unit_is_cut_into_lines_only_where_a_phrase_ends(
    text: str, lines: tuple[str, ...]
) -> None:
    """A line never ends on "in", "such" or "the", nor parts a modifier from its noun."""
    assert split_units(text) == lines
