"""What a patient reads about a change: short sentences, everyday words, grade 6 or below.

Every sentence the wording can say about a change a patient hears of is measured here: the
stored sentence of each change (`change_sentence`) and each line of a patient's change summary
that is not a criterion's own text (the rewrite of criteria is measured by
`bench/plain_english.py`). They come from every recorded version chain, and from one made-up
change per status code, limit and date, so a sentence no recorded trial happens to need is
read too.

The grade is Flesch-Kincaid (`watcher.core.readability`), counted fairly: the record's own
names and texts in the sentence (a hospital, a town, a contact, a quoted criterion or title)
and words shaped like names (two capitals or a digit: "ClinicalTrials.gov", "2026") count as
one-syllable words, since no wording can make "Azienda Ospedaliera Universitaria" shorter;
everything else, our words, counts as it is. Run with `-s` to see the figures.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from conftest import consecutive_versions, demo_versions

from watcher.core.change import PATIENT_KINDS, Change, SiteRef
from watcher.core.diff import diff_trials
from watcher.core.places import place_words
from watcher.core.readability import flesch_kincaid_grade
from watcher.core.record import parse_trial
from watcher.core.wording import (
    ChangeLine,
    ChangeSummary,
    change_sentence,
    coordinator_changes,
    patient_changes,
    trial_summary,
)
from watcher.core.wording.words import contacts_words, item_name
from watcher.data import load_glossary
from watcher.delivery.templates import render_change_summary

MAX_MEDIAN_GRADE = 6.0
MAX_P90_GRADE = 9.0
_QUOTED = re.compile(r"“[^”]*”")
_WORD = re.compile(r"[^\s,;:()]+")
# A name by its shape, as the fair measure reads one: two capitals or a digit.
_NAME_SHAPED = re.compile(r"\b(?=\w*[A-Z]\w*[A-Z]|\w*\d)[\w.@-]+")


def _names(change: Change) -> list[str]:
    """The record's own words a sentence about `change` may hold, longest first."""
    names: list[str] = []
    if change.site:
        site = change.site
        names += [p for p in (site.facility, site.city, site.state, site.country) if p]
        names.append(place_words(site))
    for value in (change.old, change.new):
        names += [p for p in contacts_words(value).split(", ") if p]
        names += [n for n in (item_name(value),) if n]
    return sorted(set(names), key=len, reverse=True)


def fair_grade(text: str, names: list[str]) -> float:
    """The grade of `text` with every word of the record's own names and quotes as "X"."""

    def one_syllable(match: re.Match[str]) -> str:
        return _WORD.sub("X", match.group())

    text = _QUOTED.sub(one_syllable, text)
    for name in names:
        text = re.sub(re.escape(name), one_syllable, text)
    return flesch_kincaid_grade(_NAME_SHAPED.sub("X", text))


def _pairs() -> Iterator[list[Change]]:
    for pair in consecutive_versions():
        yield [c for c in _diff(*pair) if c.kind in PATIENT_KINDS]


def _diff(*pair: Path) -> list[Change]:
    old, new = (parse_trial(json.loads(p.read_text(encoding="utf-8"))) for p in pair)
    return diff_trials(old, new)


def _chain(nct_id: str) -> list[Change]:
    """Every change between the recorded versions of one trial."""
    return [
        c
        for pair in consecutive_versions()
        if pair[0].name.startswith(nct_id)
        for c in _diff(*pair)
    ]


@cache
def recorded_sentences() -> dict[str, float]:
    """Every distinct patient change sentence of the recorded chains, with its fair grade."""
    graded: dict[str, float] = {}
    for changes in _pairs():
        names = sorted({n for c in changes for n in _names(c)}, key=len, reverse=True)
        for change in changes:
            sentence = change_sentence(change)
            graded[sentence] = fair_grade(sentence, _names(change))
        for block in patient_changes(changes, glossary=load_glossary()).blocks:
            lines = [block.heading] if block.heading else []
            lines += [line.label or line.text for line in block.lines]
            graded.update((line, fair_grade(line, names)) for line in lines)
    return graded


STATUS = "protocolSection.statusModule.overallStatus"
CRITERIA = "protocolSection.eligibilityModule.eligibilityCriteria"
INTERVENTIONS = "protocolSection.armsInterventionsModule.interventions"
SITES = "protocolSection.contactsLocationsModule.locations"
AGES = "protocolSection.eligibilityModule."
DATES = "protocolSection.statusModule."
PLACE = SiteRef("Dana-Farber", "Boston", "Massachusetts", "02215", "United States")
_CODES = (
    *("RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION", "ACTIVE_NOT_RECRUITING"),
    *("SUSPENDED", "TERMINATED", "COMPLETED", "WITHDRAWN", "AVAILABLE", "NO_LONGER_AVAILABLE"),
    *("TEMPORARILY_NOT_AVAILABLE", "APPROVED_FOR_MARKETING", "WITHHELD", "UNKNOWN"),
)


def _made_up() -> list[Change]:
    """One change for each status code, site status, limit and date a sentence is worded for."""
    changes = [Change("status", STATUS, "SUSPENDED", code, "major") for code in _CODES]
    changes += [
        Change("status", STATUS, "RECRUITING", "UNKNOWN", "major", None, {"last_known_status": c})
        for c in ("RECRUITING", "ACTIVE_NOT_RECRUITING")
    ]
    changes += [
        Change("status", STATUS.replace("overall", "lastKnown"), "RECRUITING", "COMPLETED", "major")
    ]
    changes += [
        Change(kind, SITES, old, code, "major", PLACE)
        for kind, old in (("site_added", None), ("site_status", "RECRUITING"))
        for code in (*_CODES[:8], None)
    ]
    changes += [Change("site_removed", SITES, "RECRUITING", None, "major", PLACE)]
    changes += [
        Change("age_sex", AGES + "minimumAge", "18 Years", "16 Years", "major"),
        Change("age_sex", AGES + "maximumAge", "75 Years", None, "major"),
        Change("age_sex", AGES + "sex", "ALL", "FEMALE", "major"),
        Change("age_sex", AGES + "healthyVolunteers", False, True, "major"),
        Change("results_posted", "hasResults", False, True, "major"),
        Change("phase", "protocolSection.designModule.phases", ["PHASE1"], ["PHASE2"], "minor"),
    ]
    was, now = {"date": "2026-03", "type": "ESTIMATED"}, {"date": "2026-09", "type": "ACTUAL"}
    changes += [
        Change("dates", DATES + name, was, new, "minor")
        for name in ("startDateStruct", "primaryCompletionDateStruct", "completionDateStruct")
        for new in (was | {"date": "2027-01"}, now, None)
    ]
    return changes


def _spread(grades: list[float]) -> tuple[float, float]:
    ordered = sorted(grades)
    return statistics.median(ordered), ordered[int(0.9 * (len(ordered) - 1))]


@pytest.mark.slow  # the whole recorded corpus
def test_patient_change_sentences_of_recorded_chains_read_at_grade_6() -> None:
    """Over every recorded version chain, the sentences a patient reads about a change have a
    median fair grade of 6 or below, and nine in ten read at grade 9 or below."""
    graded = recorded_sentences()
    median, p90 = _spread(list(graded.values()))
    print(f"\nrecorded chains: {len(graded)} sentences, median {median:.1f}, p90 {p90:.1f}")
    assert median <= MAX_MEDIAN_GRADE
    assert p90 <= MAX_P90_GRADE


def test_every_kind_of_patient_change_sentence_reads_at_grade_6() -> None:
    """A sentence for each status, site status, limit and date a patient may be told of reads at
    a median grade of 6 or below, and none above grade 9."""
    graded = {change_sentence(c): fair_grade(change_sentence(c), _names(c)) for c in _made_up()}
    median, _ = _spread(list(graded.values()))
    print(f"\nmade-up changes: {len(graded)} sentences, median {median:.1f}")
    hardest = max(graded, key=graded.__getitem__)
    assert median <= MAX_MEDIAN_GRADE
    assert graded[hardest] <= MAX_P90_GRADE, hardest


def test_fair_grade_counts_the_record_s_names_as_one_syllable() -> None:
    """A long hospital name does not raise the grade of our words; our own long words do."""
    names = ["Azienda Ospedaliera Universitaria Policlinico"]
    plain = (
        "A new site in Rome is looking for people: Azienda Ospedaliera Universitaria Policlinico."
    )
    hard = "A supplementary investigational location commenced recruitment: “Azienda Ospedaliera”."
    assert fair_grade(plain, names) < 4 < flesch_kincaid_grade(plain)
    assert fair_grade(hard, names) > 10


# -- a changed criterion: the changed words, marked -------------------------------------------


def allocation_changes() -> list[Change]:
    """NCT07227597's recorded versions (the demo's): the trial opened, and one exclusion rule
    changed by one word, "allocation" → "allocation/randomization"."""
    old, new = (parse_trial(record) for record in demo_versions("NCT07227597"))
    return diff_trials(old, new)


def allocation_line(summary: ChangeSummary) -> ChangeLine:
    (line,) = [line for block in summary.blocks for line in block.lines if "allocation" in line.now]
    return line


def test_a_patient_sees_only_the_changed_words_of_a_long_criterion() -> None:
    """The 30-word rule shows as a dozen words before and now, in plain English, with only
    "/randomization" marked: not the whole paragraph twice."""
    line = allocation_line(patient_changes(allocation_changes(), glossary=load_glossary()))
    assert line.label == (
        "Changed reason a person cannot join (under “The main exclusion criteria include but "
        "are not limited to the following:”)"
    )
    assert line.was == "…minor surgery within 2 weeks of allocation (or first dose)…"
    assert line.now == "…minor surgery within 2 weeks of allocation/randomization (or first dose)…"
    assert [(s.mark, s.text) for s in line.diff if s.mark] == [("ins", "/randomization")]


def test_a_coordinator_sees_the_whole_criterion_with_the_change_marked() -> None:
    """A coordinator checks the registry's words: the item whole, as written, change marked."""
    text = render_change_summary(coordinator_changes(allocation_changes()), "text")
    assert (
        "    Has major surgery within 4 weeks or minor surgery within 2 weeks of\n"
        "    allocation{+/randomization+} (or first dose), or is anticipated to\n"
        "    require a major surgical procedure during the study\n"
    ) in text


def test_the_stored_sentence_quotes_the_changed_words_with_a_few_beside() -> None:
    """The sentence kept with the change (feeds, digests) is short too, in the registry's words."""
    (change,) = [c for c in allocation_changes() if "surgery" in str(c.old)]
    assert change_sentence(change) == (
        "Changed reason a person cannot join (under “The main exclusion criteria include but are "
        "not limited to the following:”). Before: “…minor surgery within 2 weeks of allocation "
        "(or first dose)…”. Now: “…minor surgery within 2 weeks of allocation/randomization (or "
        "first dose)…”."
    )


def test_added_and_removed_criteria_stay_whole() -> None:
    """A new or removed rule is a rule to read in full, never cut."""
    item = "Has received a live vaccine within 30 days before the first dose of study treatment"
    added = Change("eligibility", CRITERIA, None, item, "major", detail={"section": "exclusion"})
    removed = Change("eligibility", CRITERIA, item, None, "major", detail={"section": "inclusion"})
    assert change_sentence(added) == f"New reason a person cannot join: “{item}”."
    assert change_sentence(removed) == f"Rule for who can join taken out: “{item}”."
    (block,) = patient_changes([added, removed]).blocks
    assert [(line.label, line.text) for line in block.lines] == [
        ("New reason a person cannot join", item),
        ("Rule for who can join taken out", item),
    ]


# -- treatments, groups and measures: what changed, when it is short ---------------------------


def test_a_short_change_to_a_treatment_shows_its_changed_words() -> None:
    """NCT07098338 opened sub-study 3 to third-line patients ("2L" → "2/3L"): a patient is told
    which words changed, not "the description changed"."""
    changes = [c for c in _chain("NCT07098338") if c.kind == "interventions"]
    first = change_sentence(changes[0])
    assert first == (
        "The study changed which groups get the study treatment “Dato-DXd”. "
        "Before: “Sub-study 3, investigate Dato-DXd + ramucirumab ± rilvegostomig in 2L AGA+ "
        "NSCLC”. Now: “Sub-study 3, investigate Dato-DXd + ramucirumab ± rilvegostomig in 2/3L "
        "AGA+ NSCLC”."
    )


def test_a_long_rewrite_of_a_treatment_is_one_short_line() -> None:
    """A description rewritten at length is named in one short line; its text is left to the
    registry page and the coordinator."""
    old = {"name": "Gocatamig", "type": "BIOLOGICAL", "description": "IV infusion"}
    new = old | {"description": " ".join(["Given by vein every 3 weeks"] * 6)}
    change = Change("interventions", INTERVENTIONS, old, new, "minor")
    assert change_sentence(change) == (
        "The study changed the description of the study treatment “Gocatamig”."
    )


def test_a_respelled_study_group_is_not_told_to_a_patient() -> None:
    """NCT07227597 corrected "I-DxD" to "I-DXd" in its three groups: a coordinator sees each,
    a patient is sent nothing for it; a group whose words changed is still told."""
    arms = [c for c in allocation_changes() if c.kind == "arms"]
    assert len(arms) == 3
    assert patient_changes(arms).empty
    assert len(coordinator_changes(arms).blocks[0].lines) == 3
    old = arms[0].old
    assert isinstance(old, dict)
    retyped = Change(
        arms[0].kind, arms[0].field, old, old | {"type": "PLACEBO_COMPARATOR"}, "minor"
    )
    assert not patient_changes([retyped]).empty


# -- site statuses: one vocabulary ------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("RECRUITING", "looking for people"),
        ("NOT_YET_RECRUITING", "not open yet"),
        ("ACTIVE_NOT_RECRUITING", "no longer taking new people"),
        ("ENROLLING_BY_INVITATION", "open by invitation only"),
        ("SUSPENDED", "on hold"),
        ("COMPLETED", "finished"),
        ("TERMINATED", "closed early"),
        ("WITHDRAWN", "closed before anyone joined"),
    ],
)
def test_a_site_status_reads_in_the_same_everyday_words_everywhere(code: str, words: str) -> None:
    """A site's status reads the same in the trial's site list and in the news that it changed;
    no registry code ("ACTIVE_NOT_RECRUITING", "Active not recruiting") reaches a patient."""
    record = demo_versions("NCT07227597")[-1]
    for site in record["protocolSection"]["contactsLocationsModule"]["locations"]:
        site["status"] = code
    summary = trial_summary(parse_trial(record), "patient", load_glossary())
    assert {site.status for site in summary.sites} == {words}
    change = Change("site_status", SITES, "SUSPENDED", code, "major", PLACE)
    sentence = change_sentence(change)
    assert words in sentence and "recruiting" not in sentence.lower()


# -- the HTML highlights --------------------------------------------------------------------


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(style: str) -> float:
    text = re.search(r"(?<!-)color: (#[0-9a-f]{6})", style)
    background = re.search(r"background-color: (#[0-9a-f]{6})", style)
    assert text and background, style
    lighter, darker = sorted((_luminance(text[1]), _luminance(background[1])), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.mark.parametrize("audience", ["patient", "coordinator"])
def test_html_highlights_are_inline_readable_and_never_look_like_links(audience: str) -> None:
    """Each <del>/<ins> carries its own style (mail programs drop <style> blocks), sets both
    colours with a contrast of at least 7:1 (WCAG AAA), and is never underlined."""
    changes = allocation_changes()
    summary = (
        patient_changes(changes, glossary=load_glossary())
        if audience == "patient"
        else coordinator_changes(changes)
    )
    html = render_change_summary(summary, "html")
    tags = re.findall(r"<(del|ins)( style=\"[^\"]*\")?>", html)
    assert tags and all(style for _, style in tags)
    for _, style in tags:
        assert _contrast(style) >= 7
        assert "underline" not in style
