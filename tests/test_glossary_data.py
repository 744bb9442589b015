"""The packaged glossary data, read as a patient would read its plain words in place.

The rewriter puts a term's plain words where the trial's words stood, and nothing else, so the
data itself must read right there: the same part of speech and number, no meaning added or
lost. These tests read the built `watcher/data/glossary.json` through `reads`, a small model of
that contract (longest alias first, whole words, phrases in any case, abbreviations exact, an
"s" plural takes `plain_plural`), kept apart from the engine so the data is judged on its own.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import version_chains

from watcher.core.criteria import parse_criteria

ROOT = Path(__file__).resolve().parent.parent
PACKAGED = ROOT / "watcher" / "data" / "glossary.json"
LEXICON = ROOT / "tools" / "glossary" / "lexicon.json"
TOOL = ROOT / "tools" / "build_glossary.py"
SHARED_GLOSSARY = ROOT.parent / "shared" / "glossary"


@cache
def _data() -> Any:
    return json.loads(PACKAGED.read_text(encoding="utf-8"))


@cache
def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_glossary", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def _aliases() -> tuple[dict[tuple[str, str], Any], re.Pattern[str]]:
    aliases: dict[tuple[str, str], Any] = {}
    for term in _data()["terms"]:
        for phrase in term["match"]:
            aliases.setdefault(("phrase", phrase.casefold()), term)
        for abbreviation in term["abbr"]:
            aliases.setdefault(("abbr", abbreviation), term)
    ordered = sorted(aliases, key=lambda key: len(key[1]), reverse=True)
    body = "|".join(
        f"(?i:{re.escape(text)})" if kind == "phrase" else re.escape(text) for kind, text in ordered
    )
    return aliases, re.compile(rf"(?<![\w-])(?:{body})(?![\w-])")


def reads(text: str) -> str:
    """`text` as a patient reads it once every term's plain words stand in its place."""
    aliases, pattern = _aliases()

    def plain(match: re.Match[str]) -> str:
        written = match.group(0)
        term = aliases.get(("abbr", written)) or aliases[("phrase", written.casefold())]
        if term["render"] == "define":
            return written
        plural = written.endswith("s") and not written.endswith(("ss", "us", "is"))
        words: str = (
            term.get("plain_plural") if plural and term.get("plain_plural") else term["plain"]
        )
        if written[:1].isupper() and not written[1:2].isupper():
            words = words[:1].upper() + words[1:]
        return words

    return pattern.sub(plain, text)


def _term(term_id: str) -> Any:
    return next(term for term in _data()["terms"] if term["id"] == term_id)


def _doubled(text: str) -> list[str]:
    return [m.group(0).casefold() for m in re.finditer(r"\b(\w+) \1\b", text, re.IGNORECASE)]


def test_brain_metastases_mean_the_brain_only() -> None:
    """'brain metastases' is the brain; only the central nervous system adds the spinal cord."""
    assert reads("untreated brain metastases") == "untreated tumors that have spread to the brain"
    assert reads("a brain metastasis") == "a tumor that has spread to the brain"
    assert "spinal cord" not in reads("brain metastases")
    assert reads("CNS metastases") == "tumors that have spread to the brain or spinal cord"
    assert reads("bone metastases") == "tumors that have spread to the bone"


def test_the_seed_trial_reads_its_metastases_rule_whole() -> None:
    """NCT07310784's exclusion keeps both sites, the treated brain metastases and 'active'."""
    criteria = json.loads(
        (
            ROOT / "watcher" / "demo_data" / "NCT07310784__reconstructed-from-public-page.json"
        ).read_text(encoding="utf-8")
    )["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]
    text = " ".join(reads(item.text) for item in parse_criteria(criteria))
    assert (
        "Suffering from tumors that have spread to the brain or spinal cord and/or cancer in "
        "the lining of the brain and spinal cord" in text
    )
    assert "have had treatment for tumors that have spread to the brain" in text
    assert "suspected of having an active autoimmune disease" in text


def test_qualifiers_stay_outside_the_terms() -> None:
    """A word that decides eligibility ('active', 'other', 'calculated') is never swallowed by a
    term: any alias holding one keeps it in its plain words."""
    qualifiers = (
        "active",
        "other",
        "second",
        "untreated",
        "symptomatic",
        "asymptomatic",
        "stable",
        "known",
        "calculated",
        "estimated",
        "measured",
        "severe",
        "serious",
        "chronic",
        "both",
    )
    lost = [
        (term["id"], alias)
        for term in _data()["terms"]
        if term["render"] != "define"
        for alias in term["match"]
        for word in qualifiers
        if re.search(rf"\b{word}\b", alias, re.IGNORECASE)
        and not re.search(rf"\b{word}\b", term["plain"], re.IGNORECASE)
    ]
    assert lost == []
    assert reads("Active autoimmune disease").startswith("Active ")
    assert reads("calculated creatinine clearance") == "calculated kidney clearance"
    assert reads("second primary malignancy") == "second primary cancer"


def test_kidney_and_activity_measures_keep_distinct_names() -> None:
    """CrCl, GFR and creatinine are three tests; ECOG and Karnofsky run in opposite directions."""
    kidney = {reads(name).casefold() for name in ("CrCl", "eGFR", "serum creatinine")}
    assert len(kidney) == 3
    assert reads("ECOG") != reads("KPS")
    assert reads("creatinine clearance or GFR") == "kidney clearance or kidney filter rate"


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("Known allergic hypersensitivity to", "Known allergy to"),
        ("Stage IV liver cirrhosis", "Stage IV liver cirrhosis"),  # kept: scarring is wider
        ("chemotherapy treatment regimen", "chemo treatment plan"),
        (
            "systemically administered corticosteroid treatment therapy",
            "systemically given steroid treatment",
        ),
        ("Principal Investigator", "Lead study doctor"),
        ("a history of severe anaphylaxis", "a history of severe anaphylaxis"),  # kept, explained
        (
            "uncontrolled hypo- and hyperthyroidism",
            "uncontrolled underactive or overactive thyroid",
        ),
        ("there is no evidence of disease", "there is no sign of disease"),
        (
            "any evidence of interstitial lung disease",
            "any signs of lung disease that causes scarring or swelling of lung tissue",
        ),
        ("Cardiac ejection fraction ≥ 45%", "Cardiac ejection fraction ≥ 45%"),  # a test's name
        ("as specified in the study protocol", "as stated in the study plan"),
    ],
)
def test_terms_that_meet_do_not_double_a_word(written: str, read: str) -> None:
    """Where two terms or a term and its neighbour meet, no word is said twice (issue 13)."""
    assert reads(written) == read


@pytest.mark.slow  # the whole recorded corpus
def test_no_recorded_criterion_reads_a_doubled_word() -> None:
    """Across the newest version of every recorded trial, no item reads a word twice in a row
    that its source does not."""
    doubled = []
    for paths in version_chains().values():
        record = json.loads(paths[-1].read_text(encoding="utf-8"))
        record = record[-1] if isinstance(record, list) else record
        eligibility = record.get("protocolSection", {}).get("eligibilityModule", {})
        for item in parse_criteria(eligibility.get("eligibilityCriteria")):
            extra = set(_doubled(reads(item.text))) - set(_doubled(item.text))
            if extra:
                doubled.append((paths[-1].name, sorted(extra)))
    assert doubled == []


def test_clinically_significant_is_not_called_serious() -> None:
    """'clinically significant' is not 'serious' (a shift in meaning, issue 13), and no plain words
    claim a severity their trial words do not."""
    assert reads("clinically significant bleeding") == "medically important bleeding"
    assert reads("significant cardiac disease") == "significant heart disease"
    severe_by_definition = {"anaphylaxis"}  # NCI: a severe, whole-body allergic reaction
    claimed = [
        (term["id"], alias)
        for term in _data()["terms"]
        if term["id"] not in severe_by_definition
        for alias in term["match"]  # an abbreviation's words are in its long form
        for word in ("serious", "severe", "major")
        if word in (term.get("plain_plural") or "") + term["plain"] and word not in alias.lower()
    ]
    assert claimed == []


@pytest.mark.parametrize(
    ("term_id", "test"),
    [
        ("hbsag", "HBsAg"),
        ("hbv_dna", "HBV DNA"),
        ("hbcab", "HBcAb"),
        ("hcv_rna", "HCV RNA"),
        ("hcv_antibody", "anti-HCV"),
    ],
)
def test_hepatitis_tests_are_defined_as_the_tests_they_are(term_id: str, test: str) -> None:
    """HBsAg is a blood test for hepatitis B, not 'Hepatitis B is a virus…' (issue 13)."""
    term = _term(term_id)
    assert test in term["match"] + term["abbr"]
    assert term["explain"].startswith("A blood test")
    assert not [t["id"] for t in _data()["terms"] if test in t["abbr"] and t["id"] != term_id]


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("Participants", "People"),
        ("a participant", "a person"),
        ("the participant's", "the person's"),
        ("investigators", "study doctors"),
        ("the investigator's opinion", "the study doctor's view"),
        ("Inclusion criteria", "Inclusion criteria"),  # the FDA term, defined, not swapped
        ("meets all criteria", "meets all rules"),
        ("2 prior lines of therapy", "2 past lines of treatment"),
        ("one prior line of therapy", "one past line of treatment"),
        ("prior to enrollment", "before joining"),
        ("prior therapy", "past treatment"),
        ("previously treated", "already treated"),
        ("a previously untreated tumor", "an untreated tumor"),
        ("have received", "have had"),
        ("currently receiving", "now getting"),
        ("underwent surgery", "had surgery"),
        ("permanently discontinued", "permanently stopped"),
        ("hepatic or renal impairment", "liver or kidney impairment"),
        ("women of childbearing potential", "women able to get pregnant"),
        ("not of childbearing potential", "not able to get pregnant"),
        ("planning to become pregnant", "planning to get pregnant"),
        ("intention of becoming pregnant", "intention of getting pregnant"),
        ("physical examination finding", "physical exam finding"),
        ("at initial diagnosis", "at first diagnosis"),
        ("an initial dose", "a first dose"),
        ("allowed, provided that recurrence", "allowed, as long as recurrence"),
        ("must be demonstrated", "must be shown"),
        (
            "getting any investigational drug concurrently",
            "getting any experimental drug at the same time",
        ),
        ("Has a history of active TB", "Has had active TB"),
        ("History of active TB", "History of active TB"),  # bare: 'Past HIV' would read as cured
        (
            "within 4 weeks of first study drug administration",
            "within 4 weeks of first dose of study drug",
        ),
        (
            "for 5 months after final study drug administration",
            "for 5 months after last dose of study drug",
        ),
        ("immediately before the first dose", "right before the first dose"),
        ("after the final dose of tiragolumab", "after the last dose of tiragolumab"),
        ("Has participated in a study", "Has taken part in a study"),
        ("within 7 days prior the first dose", "within 7 days before the first dose"),  # not "past"
        ("Experienced a sunburn", "Had a sunburn"),
        ("They have not experienced recurrence", "They have not had recurrence"),
        ("Willingness and ability to comply", "Being willing and able to comply"),
        (
            "investigator's global assessment (IGA) score",
            "investigator's global assessment (IGA) score",
        ),
        ("histologically confirmed adenocarcinoma", "tissue confirmed adenocarcinoma"),
        ("an adequate tumor sample", "a good enough tumor sample"),
        ("with a maximum of 3 prior regimens", "with up to 3 past plans"),
        ("toxicity potentially related to the agent", "side effect possibly linked to the drug"),
        ("no ongoing requirement for corticosteroids", "no ongoing need for steroids"),
        ("4 weeks after the completion of platinum", "4 weeks after the end of platinum"),
        ("documented after completion of radiotherapy", "recorded after the end of radiation"),
        ("Completion of a SARS-CoV-2 vaccination", "Completion of a SARS-CoV-2 vaccination"),
        ("has progressed following at least one", "has worsened after at least one"),
        ("progression while on or following", "worsening while on or after"),
        ("must remain abstinent", "must stay abstinent"),
        ("wounds must be completely healed", "wounds must be fully healed"),
        ("3 weeks should have elapsed since", "3 weeks should have passed since"),
        ("a pregnancy test must be performed", "a pregnancy test must be done"),
        ("Provision of allowed tumor tissue", "Giving allowed tumor tissue"),
        ("has voluntarily agreed", "has freely agreed"),
        ("Pregnant or lactating women.", "Women who are pregnant or making breast milk."),
        ("lactating patients must agree", "people making breast milk must agree"),
        ("Subjects who are lactating", "People who are making breast milk"),
        (
            "infection due to Mycobacterium tuberculosis",
            "infection due to Mycobacterium tuberculosis",
        ),
        ("active tuberculosis", "active TB"),
        ("3 times the upper limit of normal", "3 times the top normal level"),
    ],
)
def test_plain_words_fit_where_the_trial_words_stood(written: str, read: str) -> None:
    """Same part of speech, number, tense and article as the words they replace."""
    assert reads(written) == read


def test_plain_words_hold_nothing_the_reader_cannot_read_in_place() -> None:
    """No digit, comparator, hyphen or parenthesis, and only declared negations, in plain words:
    the packaged data passes the build's own checks."""
    _tool()._check(_data())


def test_added_negations_are_declared() -> None:
    """An entry whose plain words say 'not' or 'no' where the trial's do not says so in `adds`,
    the allow-list the fidelity checker reads."""
    assert _term("noninfectious_pneumonitis")["adds"] == ["not"]
    assert reads("non-infectious pneumonitis") == "lung inflammation not caused by infection"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"plain": "on-going"}, "hyphens and parentheses"),
        ({"plain": "not suitable"}, "declare in adds"),
        ({"plain": "at least suitable"}, "comparator"),
        ({"plain_plural": "suitables"}, "no alias ends in a plural"),
        ({"match": ["eligible", "prior"]}, "already an alias of"),
        ({"source": ""}, "no source"),
    ],
)
def test_the_build_refuses_an_entry_that_would_read_wrong(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    """Each rule of the build check names the entry and what is wrong with it."""
    data = json.loads(json.dumps(_data()))
    term = next(t for t in data["terms"] if t["id"] == "everyday_eligible")
    term.update(change)
    with pytest.raises(SystemExit, match=message):
        _tool()._check(data)


def test_every_term_names_its_source_licence_and_review() -> None:
    """Each term says where its words come from, under what licence, and whether a clinician has
    reviewed it; terms citing a US Government source are public domain."""
    terms = _data()["terms"]
    assert all(t["source"] and t["licence"] and isinstance(t["reviewed"], bool) for t in terms)
    government = [t for t in terms if t["source"].startswith(("FDA", "NCI", "PlainLanguage.gov"))]
    assert government and all("public domain" in t["licence"] for t in government)


def test_the_lexicon_holds_300_phrase_entries_chosen_by_cost() -> None:
    """At least 300 entries put plain words in the text, each recording what it cost when chosen,
    and the costliest recorded words are among them."""
    entries = json.loads(LEXICON.read_text(encoding="utf-8"))["entries"]
    swapped = [e for e in entries if e["render"] != "define"]
    assert len(swapped) >= 300
    assert all(isinstance(e["rank_cost"], int) for e in entries)
    assert sum(e["rank_cost"] > 0 for e in swapped) >= 300
    costliest = {a for e in sorted(entries, key=lambda e: -e["rank_cost"])[:10] for a in e["match"]}
    assert {"participants", "therapy", "criteria"} <= costliest


def _build_check(shared: Path, lexicon: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(TOOL), "--check", "--shared", str(shared)]
    command += ["--lexicon", str(lexicon)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


@pytest.mark.skipif(
    not SHARED_GLOSSARY.is_dir(), reason="../shared/glossary is not beside the checkout"
)
def test_build_check_notices_a_changed_lexicon(tmp_path: Path) -> None:
    """Editing the lexicon without rebuilding makes `--check` fail, naming the stale file."""
    lexicon = json.loads(LEXICON.read_text(encoding="utf-8"))
    lexicon["entries"][0]["explain"] += " Changed."
    changed = tmp_path / "lexicon.json"
    changed.write_text(json.dumps(lexicon), encoding="utf-8")
    result = _build_check(SHARED_GLOSSARY, changed)
    assert result.returncode == 1
    assert "watcher/data/glossary.json is not what" in result.stdout
