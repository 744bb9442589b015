"""`trialwatch timeline` on recorded version chains stored as a user stores them (watch, check).

Each chain is published to the replay registry one version at a time and checked, so the store
holds the versions exactly as polling left them; the dates asserted are the registry's, read
off the recorded files (last update posted, actual start date), never when the test ran.
"""

from __future__ import annotations

import json
from pathlib import Path
from statistics import median
from typing import Any

import pytest
from conftest import Trialwatch, version_chains

from watcher.core.readability import fair_grade
from watcher.core.record import parse_trial
from watcher.core.wording.timeline import (
    TimelineVersion,
    build_timeline,
    patient_sentences,
)
from watcher.registry.replay_server import ReplayServer

STARTED = "NCT06911827"  # not yet recruiting → recruiting (actual start 2025-05-09), a site
STOPPED = "NCT06754501"  # recruiting → active, not recruiting; 35 planned → 4 actual
GROWN = "NCT06780137"  # 242 → 262 planned, 39 → 43 sites, criteria and end date edited
SLIPPED = "NCT06646627"  # planned end December 2025 → July 2026


def _chain(nct: str) -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in version_chains()[nct]]


def _store_chain(trialwatch: Trialwatch, replay: ReplayServer, nct: str) -> list[dict[str, Any]]:
    """Watch a trial and check it once per recorded version, oldest first."""
    chain = _chain(nct)
    trialwatch("watch", "add", nct)
    for record in chain:
        replay.registry.publish(record)
        trialwatch("check")
    return chain


def _posted(record: dict[str, Any]) -> str:
    date: str = record["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"]
    return date


def test_status_periods_use_the_registry_dates(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """Not open yet by the first version's posting date, then recruiting from the actual start
    date the record gives, which falls between the two versions."""
    first, second = _store_chain(trialwatch, replay, STARTED)
    story = trialwatch.json("timeline", STARTED)
    assert story["versions"] == 2
    assert [(v["version"], v["date"], v["source"]) for v in story["version_dates"]] == [
        (1, _posted(first), "poll"),
        (2, _posted(second), "poll"),
    ]
    start = second["protocolSection"]["statusModule"]["startDateStruct"]
    assert start == {"date": "2025-05-09", "type": "ACTUAL"}
    assert [
        (p["status"], p["start"], p["start_basis"], p["start_known"], p["end"])
        for p in story["statuses"]
    ] == [
        ("NOT_YET_RECRUITING", _posted(first), "last_update_posted", False, "2025-05-09"),
        ("RECRUITING", "2025-05-09", "start_date", True, None),
    ]
    recruiting = story["statuses"][1]
    assert story["as_of"] == _posted(second) == "2026-02-25"
    assert recruiting["days"] == 292 and recruiting["months"] == 10
    text = trialwatch("timeline", STARTED).stdout
    assert "2 versions stored, from April 9, 2025 to February 25, 2026." in text
    assert "- From April 9, 2025 (the oldest version we have) to May 9, 2025: not open yet." in text
    assert "- Looking for people since May 9, 2025 (10 months so far)." in text
    assert "1 site added in China in February 2026." in text


def test_a_status_change_without_its_own_date_is_dated_by_its_posting(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """Recruiting → no longer taking people: the record gives no day for it, so the period
    starts on the date the registry posted the version that shows it; the final count too."""
    first, second = _store_chain(trialwatch, replay, STOPPED)
    story = trialwatch.json("timeline", STOPPED)
    assert [(p["status"], p["start"], p["end"]) for p in story["statuses"]] == [
        ("RECRUITING", "2025-04-11", _posted(second)),
        ("ACTIVE_NOT_RECRUITING", _posted(second), None),
    ]
    assert [(e["date"], e["count"], e["type"]) for e in story["enrollment"]] == [
        (_posted(first), 35, "ESTIMATED"),
        (_posted(second), 4, "ACTUAL"),
    ]
    text = trialwatch("timeline", STOPPED).stdout
    assert "In February 2026 the study said 4 people had joined. It had planned 35." in text


def test_enrollment_sites_rules_and_end_date_over_three_versions(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """A three-version chain: the size raised in the third version's month, sites grouped by
    month and country, each reworded rule with its changed words, the end date move."""
    chain = _store_chain(trialwatch, replay, GROWN)
    story = trialwatch.json("timeline", GROWN)
    # The middle recording differs from the first only in housekeeping: it is not stored.
    assert story["versions"] == 2
    assert [(e["date"], e["version"], e["count"]) for e in story["enrollment"]] == [
        (_posted(chain[0]), 1, 242),
        (_posted(chain[2]), 2, 262),
    ]
    assert sum(len(s["added"]) for s in story["sites"]) >= 4
    assert {s["month"] for s in story["sites"]} == {"2026-03"}
    assert story["eligibility"] and all(e["date"] == "2026-03-06" for e in story["eligibility"])
    reworded = [e for e in story["eligibility"] if e["marked"]]
    assert all(e["removed_words"] != e["added_words"] for e in reworded)
    assert [(m["which"], m["old"], m["new"]) for m in story["completion_dates"]] == [
        ("completion_date", "2030-02-14", "2030-01-17")
    ]
    text = trialwatch("timeline", GROWN).stdout
    assert "The planned size was raised from 242 to 262 people in March 2026." in text
    exact = trialwatch("timeline", GROWN, "--audience", "coordinator").stdout
    assert "2026-03-06 v2 enrollment 262 ESTIMATED" in exact
    assert "2026-03-06 v2 completion_date: 2030-02-14 ESTIMATED → 2030-01-17 ESTIMATED" in exact


def test_a_trial_never_watched_or_never_checked_is_one_clear_error(
    trialwatch: Trialwatch,
) -> None:
    err = trialwatch("timeline", "NCT06646627", expect=2).stderr
    assert err == "Error: NCT06646627 has never been watched, so there is no timeline\n"
    trialwatch("watch", "add", "NCT06646627")
    err = trialwatch("timeline", "NCT06646627", expect=2).stderr
    assert err.startswith("Error: NCT06646627: no version stored yet")


def _versions(nct: str, source: str = "history") -> list[TimelineVersion]:
    """A chain handed to the core as a backfill would: numbered from 0, its own source."""
    out = []
    for number, path in enumerate(version_chains()[nct]):
        trial = parse_trial(json.loads(Path(path).read_text(encoding="utf-8")))
        assert trial.last_update_posted is not None
        out.append(TimelineVersion(number, trial.last_update_posted, "qc_date", trial, source))
    return out


def test_the_core_takes_versions_whatever_their_source() -> None:
    """Versions numbered from 0 with another source and date basis tell the same story."""
    story = build_timeline(_versions(SLIPPED))
    assert [(m.which, m.old, m.new, m.version, m.date_basis) for m in story.completion] == [
        ("completion_date", "2025-12", "2026-07", 1, "qc_date"),
        ("primary_completion_date", "2025-12", "2026-07", 1, "qc_date"),
    ]
    assert "In February 2026, the planned end moved from December 2025 to July 2026." in (
        patient_sentences(story)
    )


def test_an_empty_chain_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one version"):
        build_timeline([])


def test_patient_sentences_are_plain() -> None:
    """Median fair grade of every patient timeline sentence over the recorded chains ≤ 6."""
    grades = [
        fair_grade(line)
        for nct, paths in version_chains().items()
        if len(paths) > 1
        for line in patient_sentences(build_timeline(_versions(nct)))
    ]
    assert median(grades) <= 6


def test_sites_are_grouped_by_month_and_country() -> None:
    """A version that drops dozens of sites says so once per country, with the month."""
    story = build_timeline(_versions("NCT04736173"))  # 92 → 56 sites in March 2026
    korea = next(s for s in story.sites if s.country == "South Korea")
    assert (korea.month, len(korea.added), len(korea.closed)) == ("2026-03", 1, 12)
    lines = patient_sentences(story)
    assert "12 sites closed in South Korea in March 2026." in lines
    assert sum(len(s.closed) - len(s.added) for s in story.sites) == 92 - 56
