"""What a trial is and what changed, as patients and coordinators read it (watcher.core.wording)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest
from conftest import consecutive_versions, demo_versions, load_fixture, plain_words
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.core.change import Change, SiteRef
from watcher.core.diff import diff_trials
from watcher.core.glossary import Glossary
from watcher.core.record import Trial, parse_trial
from watcher.core.wording import (
    CLOSING,
    change_sentence,
    coordinator_changes,
    headline,
    patient_changes,
    trial_summary,
)
from watcher.data import load_glossary
from watcher.data.gazetteer import load_gazetteer
from watcher.delivery.templates import render_change_summary, render_trial_summary

DEMO = "NCT07310784__reconstructed-from-public-page.json"
STATUS = "protocolSection.statusModule.overallStatus"
SITES = "protocolSection.contactsLocationsModule.locations"
CRITERIA = "protocolSection.eligibilityModule.eligibilityCriteria"
BEIJING = SiteRef("Beijing Cancer Hospital", "Beijing", None, None, "China")
BOSTON = SiteRef("Dana-Farber", "Boston", "Massachusetts", "02215", "United States")


@cache
def glossary() -> Glossary:
    return load_glossary()


def trial(name: str = DEMO) -> Trial:
    return parse_trial(load_fixture(name))


def changes_of(paths: tuple[Path, Path]) -> list[Change]:
    old, new = (parse_trial(json.loads(p.read_text(encoding="utf-8"))) for p in paths)
    return diff_trials(old, new)


def reopening() -> list[Change]:
    """NCT06203210's reopening: status, criteria, contacts and ~450 site changes at once."""
    pair = next(p for p in consecutive_versions() if p[0].name.startswith("NCT06203210"))
    return changes_of(pair)


# -- one sentence per change ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "sentence"),
    [
        (
            Change("status", STATUS, "NOT_YET_RECRUITING", "RECRUITING", "major"),
            "This study has started looking for people to join.",
        ),
        (
            Change("status", STATUS, "SUSPENDED", "RECRUITING", "major"),
            "This study is looking for people again.",
        ),
        (
            Change("site_added", SITES, None, "RECRUITING", "major", BEIJING),
            "A new site in Beijing, China is looking for people: Beijing Cancer Hospital.",
        ),
        (
            Change(
                "enrollment",
                "protocolSection.designModule.enrollmentInfo",
                {"count": 92, "type": "ESTIMATED"},
                {"count": 120, "type": "ESTIMATED"},
                "minor",
            ),
            "The study now plans to enroll 120 people. It planned 92.",
        ),
        (
            Change(
                "eligibility",
                CRITERIA,
                "ECOG 0-1",
                "ECOG 0-2",
                "major",
                detail={"section": "inclusion"},
            ),
            "Changed rule for who can join. Before: “ECOG 0-1”. Now: “ECOG 0-2”.",
        ),
    ],
)
def test_each_change_has_one_exact_sentence(change: Change, sentence: str) -> None:
    """The stored sentence says what happened, keeping the trial's own values."""
    assert change_sentence(change) == sentence


@pytest.mark.slow
def test_every_recorded_change_gets_a_sentence_with_its_numbers() -> None:
    """Each real change reads as one sentence ending in a full stop, numbers kept."""
    for pair in consecutive_versions():
        for change in changes_of(pair):
            sentence = change_sentence(change)
            assert not sentence[:1].islower() and sentence.endswith("."), sentence
            for value in (change.old, change.new):
                if isinstance(value, int) and not isinstance(value, bool):
                    assert str(value) in sentence


# -- what a patient is told ---------------------------------------------------------------------


def test_info_changes_are_never_told_to_a_patient() -> None:
    """A housekeeping-level change alone makes an empty summary: nothing is sent."""
    info = Change(
        "sponsor", "protocolSection.sponsorCollaboratorsModule.collaborators", [], ["X"], "info"
    )
    assert patient_changes([info]).empty
    assert not coordinator_changes([info]).empty


def test_eligibility_changes_are_grouped_with_both_versions() -> None:
    """Changed rules sit under one heading; a changed item shows before and now in plain words."""
    changed = Change(
        "eligibility",
        CRITERIA,
        "Age >18 years",
        "Age >16 years",
        "major",
        detail={"section": "inclusion"},
    )
    removed = Change(
        "eligibility", CRITERIA, "Prior malignancy", None, "major", detail={"section": "exclusion"}
    )
    summary = patient_changes([changed, removed], glossary=glossary())
    (block,) = summary.blocks
    assert block.heading == "The rules for who can join changed:"
    first, second = block.lines
    assert (first.label, first.was, first.now) == (
        "Changed rule for who can join",
        "Age older than 18 years",
        "Age older than 16 years",
    )
    assert second.label == "Reason a person cannot join taken out"
    prior, cancer = plain_words("prior"), plain_words("malignancy")
    assert second.text.startswith(f"{prior.capitalize()} {cancer}")
    assert [t.term for t in summary.terms] == ["malignancy"]


def test_hundreds_of_site_changes_are_counted_by_place() -> None:
    """NCT06203210's ~450 site changes read as a few lines, and the reopening comes first."""
    changes = reopening()
    assert len(changes) > 400
    summary = patient_changes(changes, glossary=glossary())
    lines = [line.text for block in summary.blocks for line in block.lines]
    assert lines[0] == "This study is looking for people again."
    assert len(lines) < 12
    assert any(
        re.match(r"\d+ sites are now looking for people, in United States \(\d+\)", t)
        for t in lines
    )


def test_far_away_sites_are_left_out_but_status_and_rules_stay() -> None:
    """A patient near Boston hears the status and the rules, not a new site in Beijing."""
    changes = [
        Change("status", STATUS, "NOT_YET_RECRUITING", "RECRUITING", "major"),
        Change(
            "eligibility", CRITERIA, None, "Age >18 years", "major", detail={"section": "inclusion"}
        ),
        Change("site_added", SITES, None, "RECRUITING", "major", BEIJING),
        Change("site_added", SITES, None, "RECRUITING", "major", BOSTON),
    ]
    text = render_change_summary(
        patient_changes(changes, load_gazetteer().resolve("Boston, MA, USA")), "text"
    )
    assert "This study has started looking for people to join." in text
    assert "New rule for who can join: Age >18 years" in text
    assert "Boston, Massachusetts" in text and "Beijing" not in text
    assert (
        patient_changes(changes[2:], load_gazetteer().resolve("Boston, MA, USA"))
        .blocks[0]
        .lines[0]
        .text.startswith("A new site in Boston")
    )


def test_coordinators_get_official_values_old_to_new() -> None:
    """The coordinator variant shows registry codes and every value as written."""
    changes = [
        Change("status", STATUS, "NOT_YET_RECRUITING", "RECRUITING", "major"),
        Change(
            "eligibility",
            CRITERIA,
            "Prior malignancy",
            None,
            "major",
            detail={"section": "exclusion"},
        ),
    ]
    text = render_change_summary(coordinator_changes(changes), "text")
    assert "NOT_YET_RECRUITING → RECRUITING" in text
    assert "Prior malignancy" in text and "Earlier" not in text


def test_coordinators_see_site_counts_by_value_when_there_are_hundreds() -> None:
    """Hundreds of site changes are counted by old → new status for coordinators too."""
    summary = coordinator_changes(reopening())
    assert sum(len(b.lines) for b in summary.blocks) < 60
    assert any("→ Recruiting: " in line.text for b in summary.blocks for line in b.lines)


def test_headline_puts_the_most_important_change_first() -> None:
    """The subject says what happened, then which trial; a fallback counts the updates."""
    demo = trial()
    start = Change("status", STATUS, "NOT_YET_RECRUITING", "RECRUITING", "major")
    assert headline([start], demo) == (
        "NCT07310784 is now recruiting — A Phase II Trial of LM103 in Advanced Melanoma"
    )
    dates = Change("dates", "protocolSection.statusModule.startDateStruct", None, None, "minor")
    assert headline([dates, dates, dates], demo).startswith("NCT07310784 has 3 updates — ")


# -- a trial, summarised --------------------------------------------------------------------------


def test_demo_trial_summary_has_every_part_a_patient_needs() -> None:
    """Title, key facts, what is tested, phase and status explained, who may join, terms, sites,
    closing."""
    summary = trial_summary(trial(), "patient", glossary())
    text = render_trial_summary(summary, "text")
    for part in (
        "What the study tests",
        "Phase 2. ",
        "Recruiting. ",
        "Key facts\n- You must be 18 to 75 years old.",
        "Who can join",
        "Who cannot join",
        "What these words mean",
        "Beijing Cancer Hospital, Beijing, China",
    ):
        assert part in text, part
    assert text.rstrip().endswith(CLOSING)
    assert summary.items and not any(item.shown_as_written for item in summary.items)


def test_sites_are_listed_nearest_first() -> None:
    """With a place given, sites in that city come first and say so."""
    record = demo_versions("NCT06911827")[-1]
    near = trial_summary(
        parse_trial(record), "patient", glossary(), load_gazetteer().resolve("Guangzhou, China")
    )
    assert near.sites[0].place.startswith("Guangzhou") and near.sites[0].nearness == "in your city"
    anywhere = trial_summary(parse_trial(record), "patient", glossary())
    assert all(site.nearness == "" for site in anywhere.sites)


def test_coordinator_summary_rewrites_nothing() -> None:
    """A coordinator reads the criteria as written, the status code, and no closing line."""
    summary = trial_summary(trial(), "coordinator", glossary())
    text = render_trial_summary(summary, "text")
    assert "ECOG performance status 0-1;" in text and "Daily-activity" not in text
    assert "Overall status\nRECRUITING" in text
    assert summary.closing is None and summary.terms == ()


def test_an_unknown_audience_is_refused() -> None:
    """A typo in the audience is an error, not a silently different summary."""
    with pytest.raises(ValueError, match="audience"):
        trial_summary(trial(), "doctor", glossary())


# -- properties ------------------------------------------------------------------------------------

NASTY = st.text(
    alphabet=st.sampled_from(list("<>&\"' ab1≤≥-\\*\n:;()script/")), min_size=1, max_size=60
)


@settings(max_examples=40, deadline=None)
@given(title=NASTY, condition=NASTY, criterion=NASTY)
def test_html_never_lets_trial_text_become_markup(
    title: str, condition: str, criterion: str
) -> None:
    """Whatever a record holds, the HTML summary has no tag the template did not write."""
    record = load_fixture(DEMO)
    protocol = record["protocolSection"]
    protocol["identificationModule"]["briefTitle"] = title
    protocol["conditionsModule"]["conditions"] = [condition]
    protocol["eligibilityModule"]["eligibilityCriteria"] = f"Inclusion Criteria:\n\n* {criterion}"
    for audience in ("patient", "coordinator"):
        html = render_trial_summary(
            trial_summary(parse_trial(record), audience, glossary()), "html"
        )
        assert "<script" not in html
        tags = set(re.findall(r"</?([a-z0-9]+)", html))
        assert tags <= {
            "div",
            "h2",
            "h3",
            "small",
            "a",
            "p",
            "strong",
            "ul",
            "li",
            "dl",
            "dt",
            "dd",
            "br",
        }


def test_html_escapes_script_and_ampersand_in_changes() -> None:
    """A change's text with <script> and & is escaped in the HTML change summary."""
    change = Change(
        "eligibility",
        CRITERIA,
        None,
        "A & B <script>x()</script>",
        "major",
        detail={"section": "inclusion"},
    )
    for summary in (patient_changes([change]), coordinator_changes([change])):
        html = render_change_summary(summary, "html")
        assert "<script>" not in html and "A &amp; B &lt;script&gt;" in html


@pytest.mark.slow
@pytest.mark.parametrize("pair", consecutive_versions(), ids=lambda p: p[1].name[:11])
def test_every_recorded_change_set_summarises_for_both_audiences(pair: tuple[Path, Path]) -> None:
    """Real change sets render for patients and coordinators; coordinators miss nothing."""
    changes = changes_of(pair)
    patient = patient_changes(changes, load_gazetteer().resolve("China"), glossary=glossary())
    coordinator = coordinator_changes(changes)
    assert coordinator.empty == (not changes)
    assert patient.empty or any(c.severity != "info" for c in changes)
    for summary in (patient, coordinator):
        render_change_summary(summary, "text")
        render_change_summary(summary, "html")
