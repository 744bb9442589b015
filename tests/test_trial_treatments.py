"""What a trial tests, as a patient's summary lists it: one line per medicine, a placebo named
as a dummy treatment, medicines given beside the tested one listed apart (real records)."""

from __future__ import annotations

import json
from functools import cache

import pytest
from conftest import version_chains

from watcher.core.record import parse_trial
from watcher.core.wording.trial_facts import PLACEBO, patient_facts
from watcher.data import load_glossary


@cache
def lists(nct_id: str) -> dict[str, tuple[str, ...]]:
    """The lines under each labelled paragraph of a patient's summary (newest version)."""
    trial = parse_trial(json.loads(version_chains()[nct_id][-1].read_text(encoding="utf-8")))
    return {fact.label: fact.lines for fact in patient_facts(trial, load_glossary())}


def test_a_name_that_lists_four_drugs_is_four_drugs() -> None:
    """NCT07310784's "Dacarbazine, temozolomide, paclitaxel, carboplatin/cisplatin" are four
    drugs, not "a drug"."""
    assert lists("NCT07310784")["What the study tests"] == (
        "LM103 TILs Injection (a biological medicine)",
        "Dacarbazine (a drug)",
        "Temozolomide (a drug)",
        "Paclitaxel (a drug)",
        "Carboplatin/cisplatin (a drug)",
    )


@pytest.mark.parametrize(
    ("nct_id", "line"),
    [
        ("NCT00208234", f"Placebo for Omalizumab: {PLACEBO}"),  # type DRUG
        ("NCT03418623", PLACEBO[0].upper() + PLACEBO[1:]),  # type OTHER
        ("NCT03064438", f"Vehicle: {PLACEBO}"),  # described "Placebo Comparator", placebo arm
        ("NCT02210780", PLACEBO[0].upper() + PLACEBO[1:]),  # in an arm typed EXPERIMENTAL
    ],
)
def test_a_placebo_is_named_as_a_dummy_treatment_and_is_never_what_is_tested(
    nct_id: str, line: str
) -> None:
    """Never "Placebo (a drug)": a placebo is what the tested treatment is compared with."""
    found = lists(nct_id)
    assert found["Compared with"] == (line,)
    assert not any("placebo" in tested.lower() for tested in found["What the study tests"])


def test_no_summary_calls_a_placebo_a_drug() -> None:
    """Across every recorded trial, no listed line says a placebo is a medicine of some type."""
    for nct_id in version_chains():
        for lines in lists(nct_id).values():
            for line in lines:
                assert not ("placebo" in line.lower() and line.endswith(("drug)", "medicine)")))


def test_rescue_medication_is_not_listed_as_what_the_study_tests() -> None:
    """NCT07227597's "Rescue Medications" are given beside the study treatment, named only."""
    found = lists("NCT07227597")
    assert found["What the study tests"] == (
        "Gocatamig (a drug)",
        "I-DXd (a drug)",
        "Atezolizumab (a drug)",
    )
    assert found["Compared with"] == ("Carboplatin (a drug)", "Etoposide (a drug)")
    assert found["Also given"] == ("Rescue Medications",)


def test_premedication_and_standard_care_given_beside_the_tested_drug_are_listed_apart() -> None:
    """ "…will be given as premedication for 131I-omburtamab" and "…administered as SoC" are not
    what the study tests; standard care only in comparator arms is what it compares with."""
    premedicated = lists("NCT04743661")
    assert premedicated["What the study tests"] == (
        "Irinotecan (a drug)",
        "Temozolomide (a drug)",
        "Bevacizumab (a drug)",
        "Omburtamab I-131 (a drug)",
    )
    assert premedicated["Also given"][:3] == ("Liothyronine", "SSKI", "Dexamethasone")
    assert lists("NCT06996782")["Also given"] == (
        "Cisplatin",
        "Carboplatin",
        "Pemetrexed",
        "Paclitaxel",
        "Nab-paclitaxel",
    )
    assert "Also given" not in lists("NCT06203210")
    assert lists("NCT06203210")["Compared with"] == (
        "Topotecan (a drug)",
        "Amrubicin (a drug)",
        "Lurbinectedin (a drug)",
    )


@pytest.mark.parametrize(
    ("nct_id", "line"),
    [
        ("NCT04207047", "LaseMD (a device)"),
        ("NCT03630471", "PRIDE 'Step 1' problem-solving intervention (a behavior program)"),
        ("NCT00567567", "External Beam Radiation Therapy (radiation)"),
        ("NCT00567567", "Peripheral Blood Stem Cell Transplantation (a procedure)"),
        ("NCT00567567", "Laboratory Biomarker Analysis"),  # OTHER: no type to name
        ("NCT01305200", "Questionnaire administration"),  # a line starts with a capital
        ("NCT05123482", "AZD9574 (a drug)"),  # "AZD8205 in combination with AZD9574"
    ],
)
def test_each_line_names_the_type_the_registry_gives(nct_id: str, line: str) -> None:
    """Devices, behavior programs, radiation and procedures are named as the registry types them."""
    assert line in lists(nct_id)["What the study tests"]
