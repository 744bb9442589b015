"""Key facts as a patient reads them first: right when sure, silent when not, from real records."""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from functools import cache

import pytest
from conftest import all_fixture_records, demo_versions, version_chains

from watcher.cli.summary import summary_json
from watcher.core.criteria import parse_criteria
from watcher.core.diff import diff_trials
from watcher.core.notify import Letterhead, plan_notices
from watcher.core.readability import flesch_kincaid_grade
from watcher.core.record import Trial, parse_trial
from watcher.core.rewrite import PlainItem, rewrite_criteria
from watcher.core.subscriptions import Subscriber, Subscription
from watcher.core.wording import trial_summary
from watcher.core.wording.key_facts import TOPICS, KeyFact, key_facts
from watcher.data import load_glossary
from watcher.delivery.templates import render, render_trial_summary

SEED = "NCT07310784"


@cache
def record(nct_id: str) -> Trial:
    """The newest recorded version of a trial."""
    return parse_trial(json.loads(version_chains()[nct_id][-1].read_text(encoding="utf-8")))


@cache
def items_of(nct_id: str) -> tuple[PlainItem, ...]:
    return tuple(rewrite_criteria(record(nct_id).eligibility.criteria, load_glossary()))


def facts_of(nct_id: str) -> dict[str, KeyFact]:
    facts = key_facts(record(nct_id), items_of(nct_id))
    by_topic = {fact.topic: fact for fact in facts}
    assert len(by_topic) == len(facts), "one fact per topic in these records"
    return by_topic


# -- the seed trial ------------------------------------------------------------------------------


def test_seed_trial_key_facts_come_first_and_link_to_their_items() -> None:
    """NCT07310784: 18 to 75, any sex, ECOG 0 to 1, two earlier lines, a measurable lesion."""
    facts = facts_of(SEED)
    assert [(f.topic, f.text) for f in facts.values()] == [
        ("age", "You must be 18 to 75 years old."),
        ("sex", "People of any sex can join."),
        ("performance_status", "You must be fully active or able to do light work (ECOG 0 to 1)."),
        ("measurable_disease", "You must have at least one tumor that can be measured on scans."),
        ("pregnancy", "You cannot join if you are pregnant or breastfeeding."),
        (
            "prior_treatment",
            "You must have had at least two earlier lines of standard treatment that did not work.",
        ),
    ]
    items = items_of(SEED)
    assert items[facts["performance_status"].sources[0]].original == "ECOG performance status 0-1;"
    assert (
        "at least one measurable lesion" in items[facts["measurable_disease"].sources[0]].original
    )
    pregnancy = items[facts["pregnancy"].sources[0]]
    assert (pregnancy.section, pregnancy.original) == (
        "exclusion",
        "Women who are pregnant or breastfeeding;",
    )
    assert "failed at least two lines" in items[facts["prior_treatment"].sources[0]].original
    assert facts["age"].fields == (
        "protocolSection.eligibilityModule.minimumAge",
        "protocolSection.eligibilityModule.maximumAge",
    )


def test_seed_trial_rules_stay_silent_where_the_item_is_not_plain() -> None:
    """Brain metastases with an exception, a conditional BRAF item and "infectious diseases such
    as hepatitis B, hepatitis C, syphilis, AIDS" give no fact, and the record has no healthy
    volunteers field to read."""
    facts = facts_of(SEED)
    for topic in ("healthy_volunteers", "brain_metastases", "tumor_markers", "hiv_hepatitis"):
        assert topic not in facts, topic


# -- other real records: what each rule reads, and where it must say nothing -----------------------

ECOG_0_1 = "You must be fully active or able to do light work (ECOG 0 to 1)."
MEASURABLE = "You must have at least one tumor that can be measured on scans."
PREGNANT_OR_BREASTFEEDING = "You cannot join if you are pregnant or breastfeeding."
EXPECTED: dict[str, dict[str, str | None]] = {
    # "Symptomatic, untreated, or actively progressing central nervous system (CNS) metastases"
    "NCT05581004": {
        "performance_status": ECOG_0_1,
        "brain_metastases": "You cannot join if cancer has spread to your brain or spinal cord "
        "and causes symptoms, is not treated, or is growing.",
        "measurable_disease": MEASURABLE,
        "pregnancy": PREGNANT_OR_BREASTFEEDING,
        "hiv_hepatitis": "You cannot join if you test positive for HIV.",
    },
    # "Brain metastases unless treated, asymptomatic, stable, and not requiring continuous
    # corticosteroids"
    "NCT07115043": {
        "brain_metastases": "If cancer has spread to your brain, it must have been treated, "
        "cause no symptoms, and be stable. You must not need steroids for it all the time.",
        "measurable_disease": MEASURABLE,
    },
    "NCT06780137": {  # "Untreated or symptomatic brain metastases": the brain, not the CNS
        "brain_metastases": "You cannot join if cancer has spread to your brain and is not "
        "treated or causes symptoms.",
    },
    "NCT03729596": {  # ECOG ≤2 is 0 to 2; "Measurable disease. Prostate … bone only … eligible."
        "performance_status": "You must be able to care for yourself and be up and about more "
        "than half the day (ECOG 0 to 2).",
        "measurable_disease": None,
    },
    "NCT03934567": {  # "received at least two prior standard therapy lines including …"
        "prior_treatment": "You must have had at least two earlier lines of standard treatment.",
    },
    "NCT05935098": {  # "Females of childbearing potential and nonsterile males must be willing…"
        "contraception": "If you could get pregnant or father a child, you must use birth "
        "control. You must do this during the study and for some time after it.",
    },
    "NCT04222491": {  # "Females who are pregnant, planning to become pregnant, or breastfeeding"
        "pregnancy": PREGNANT_OR_BREASTFEEDING,
    },
    "NCT00162773": {"pregnancy": PREGNANT_OR_BREASTFEEDING},  # two items: pregnant; breast-feeding
    # "Known HIV positivity" and "History of HIV infection": the broader one is said.
    "NCT04897321": {
        "hiv_hepatitis": "You cannot join if you have or have had HIV.",
        "tumor_markers": "Your tumor must test positive for B7-H3.",  # "B7-H3+ solid tumor …"
        "performance_status": None,  # "Karnofsky or Lansky (age-dependent) performance score ≥50"
    },
    "NCT05130177": {
        "performance_status": ECOG_0_1,  # a second sentence names ECOG without a level
        "brain_metastases": None,  # "Note: … previously treated brain metastases may participate"
        "contraception": "If you are a man, you must use birth control. You must do this during "
        "the study and for some time after it.",  # the women's item is nested: not read
        # hepatitis B/C: "Patients with treated Hepatitis B/C … may be enrolled"
        "hiv_hepatitis": "You cannot join if you have or have had HIV.",
    },
    "NCT04743661": {  # Karnofsky/Lansky by age; "not required to have measurable …"; "unless…"
        "performance_status": None,
        "measurable_disease": None,
        "pregnancy": None,
    },
    "NCT02576665": {"performance_status": None},  # "ECOG 0 or 1 (solid tumors) or KPS ≥ 70 (rHGG)"
    "NCT07221253": {"performance_status": None},  # "…with no deterioration (ie, ECOG PS > 1)"
    "NCT06346197": {"brain_metastases": None},  # "Note: … treated CNS lesions are eligible"
    "NCT06382129": {
        "brain_metastases": "You cannot join if cancer has spread to your brain or spinal cord "
        "and is active.",
        "tumor_markers": None,  # "EGFR wild-type non-small cell lung cancer"
    },
    "NCT06754501": {"performance_status": ECOG_0_1, "contraception": None},  # notes, alternatives
    "NCT05537740": {"contraception": None},  # "…who engage in heterosexual intercourse must…"
    # "…failed at least one prior line of standard therapy. … are allowed, but must …"
    "NCT06825494": {"prior_treatment": None},
    # "Pregnant or lactating women who, as judged by the investigator, were not candidates…"
    "NCT06604689": {
        "performance_status": "You must be able to care for yourself (Karnofsky 70 or higher).",
        "pregnancy": None,
    },
    "NCT06996782": {"tumor_markers": None},  # PD-L1 TPS ≥ 1% only for sub-study 2 (nested)
    "NCT07222735": {"performance_status": None, "pregnancy": None},  # "Not lactating with intent…"
}


@pytest.mark.parametrize(("nct_id", "expected"), EXPECTED.items(), ids=list(EXPECTED))
def test_rules_read_real_records_and_stay_silent_when_unsure(
    nct_id: str, expected: dict[str, str | None]
) -> None:
    """Each rule's sentence on records written in different ways, and its silence where an item
    hedges, limits who it applies to, or another item lets people in after all."""
    facts = facts_of(nct_id)
    for topic, text in expected.items():
        assert (facts[topic].text if topic in facts else None) == text, topic


@pytest.mark.parametrize(
    ("criteria", "topic", "fact"),
    [
        (
            "* KRAS G12C mutation",
            "tumor_markers",
            "Your tumor must have the KRAS G12C gene change.",
        ),
        (
            "* Documented BRAF V600E mutation",
            "tumor_markers",
            "Your tumor must have the BRAF V600E gene change.",
        ),
        (
            "* ALK rearrangement",
            "tumor_markers",
            "Your tumor must have the ALK gene rearrangement.",
        ),
        ("* PD-L1 TPS ≥ 50%", "tumor_markers", "Your tumor must have a PD-L1 TPS of 50% or more."),
        (
            "* If the BRAF V600 mutation is positive, BRAF inhibitors must fail",
            "tumor_markers",
            None,
        ),
        ("* EGFR wild-type non-small cell lung cancer", "tumor_markers", None),
        ("* Absence of sensitizing EGFR mutations or ALK rearrangements", "tumor_markers", None),
        (
            "* Received at least 1 prior line of platinum-based chemotherapy",
            "prior_treatment",
            None,
        ),
        (
            "* Failed at least two lines of standard treatment\n* Received at least one line of "
            "chemotherapy",
            "prior_treatment",
            None,  # two items that say it differently: not sure which holds
        ),
        (
            "Exclusion Criteria:\n\n* Untreated and symptomatic brain metastases",
            "brain_metastases",
            "You cannot join if cancer has spread to your brain and is not treated and causes "
            "symptoms.",  # both, as the item says: not either
        ),
        (
            "Exclusion Criteria:\n\n* Pregnant, or planning to become pregnant unless using "
            "two methods of birth control",
            "pregnancy",
            None,
        ),
    ],
)
def test_items_as_registries_write_them(criteria: str, topic: str, fact: str | None) -> None:
    """Requirements phrased as registries phrase them: a bare one is read; a condition, a
    marker that must be absent, alternatives, a kind the sentence would drop, two items that
    disagree or an exception are not."""
    if not criteria.startswith("Exclusion"):
        criteria = f"Inclusion Criteria:\n\n{criteria}"
    items = rewrite_criteria(criteria, load_glossary())
    found = [f.text for f in key_facts(record(SEED), items) if f.topic == topic]
    assert found == ([fact] if fact else [])


# -- every record ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    """An item as parsed, not rewritten: all the rules read (`CriteriaItem`)."""

    section: str
    original: str
    depth: int
    parent: str | None


@cache
def every_fact() -> list[tuple[Trial, tuple[Written, ...], KeyFact]]:
    """Key facts of every recorded version."""
    out = []
    for path in all_fixture_records():
        trial = parse_trial(json.loads(path.read_text(encoding="utf-8")))
        items = tuple(
            Written(c.section, c.text, c.depth, c.parent)
            for c in parse_criteria(trial.eligibility.criteria)
        )
        out += [(trial, items, fact) for fact in key_facts(trial, items)]
    return out


@pytest.mark.slow  # the whole recorded corpus
def test_every_fact_keeps_its_numbers_and_points_at_real_items() -> None:
    """On every record: each number a fact says is in the items or fields it names (a scale's
    0 aside: "ECOG ≤2" is "ECOG 0 to 2"), and it names some."""
    assert every_fact()
    for trial, items, fact in every_fact():
        assert fact.sources or fact.fields, fact
        said = [items[i].original for i in fact.sources]
        eligibility = trial.eligibility
        said += (
            [eligibility.minimum_age or "", eligibility.maximum_age or ""] if fact.fields else []
        )
        scale_start = "0" if fact.topic == "performance_status" else None
        for number in (n for n in re.findall(r"\d+", fact.text) if n != scale_start):
            assert any(re.search(rf"(?<!\d){number}(?!\d)", s) for s in said), (number, fact)
        assert fact.topic in TOPICS


@pytest.mark.slow  # the whole recorded corpus
def test_key_facts_read_at_grade_6_or_below() -> None:
    """The median Flesch-Kincaid grade of the key facts of every record is 6 or lower."""
    grades = [flesch_kincaid_grade(fact.text) for _, _, fact in every_fact()]
    assert statistics.median(grades) <= 6, statistics.median(grades)


# -- where a reader sees them --------------------------------------------------------------------


def test_patient_summary_shows_key_facts_first_in_text_and_html() -> None:
    """Right under the title, before what the study tests, in both formats."""
    summary = trial_summary(record(SEED), "patient", load_glossary())
    text = render_trial_summary(summary, "text")
    assert text.index("Key facts\n- You must be 18 to 75 years old.") < text.index(
        "What the study tests"
    )
    html = render_trial_summary(summary, "html")
    assert html.index("<h3>Key facts</h3>") < html.index("What the study tests")
    assert "<li>You must be fully active or able to do light work (ECOG 0 to 1).</li>" in html


def test_coordinators_get_no_key_facts() -> None:
    """A coordinator reads the exact criteria and fields; no looser second version of them."""
    summary = trial_summary(record(SEED), "coordinator", load_glossary())
    assert summary.key_facts == ()
    assert "Key facts" not in render_trial_summary(summary, "text")


def test_summary_json_gives_each_fact_with_its_sources() -> None:
    """Scripts get each fact's topic and text, and the criteria (index, label) or fields."""
    data = summary_json(trial_summary(record(SEED), "patient", load_glossary()))
    ecog = next(f for f in data["key_facts"] if f["topic"] == "performance_status")
    assert ecog["sources"] == [{"index": 2, "label": "3", "section": "inclusion"}]
    assert data["criteria"][2]["original"] == "ECOG performance status 0-1;"
    sex = next(f for f in data["key_facts"] if f["topic"] == "sex")
    assert sex == {
        "topic": "sex",
        "text": "People of any sex can join.",
        "sources": [],
        "fields": ["protocolSection.eligibilityModule.sex"],
    }


def test_an_email_about_the_trial_opens_its_summary_with_the_key_facts() -> None:
    """A change email gives the key facts right after what changed, in text and HTML."""
    old, new = (parse_trial(version) for version in demo_versions("NCT07227597"))
    person = Subscriber(7, "pat@example.org", "unsub-token-123", "feed-token-456")
    notices = plan_notices(
        "NCT07227597",
        2,
        new,
        diff_trials(old, new),
        [(person, Subscription(1, person.id, "NCT07227597"))],
        (),
        glossary=load_glossary(),
        letterhead=Letterhead("trialwatch <alerts@trials.example.org>"),
        render=render,
        now=datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
    )
    (outgoing,) = notices.messages
    message = BytesParser(policy=policy.default).parsebytes(outgoing.body)
    assert isinstance(message, EmailMessage)
    text, html = (message.get_body((kind,)) for kind in ("plain", "html"))
    assert text is not None and html is not None
    content = text.get_content().replace("\r\n", "\n")
    assert content.index("What changed\n") < content.index(
        "Key facts\n=========\n- You must be at least 18 years old."
    )
    assert ">Key facts</h2>" in html.get_content()
