"""Summaries of real records, compared with golden files a person has read as a patient would.

A failing test here means the words a reader gets have changed. When the change is meant,
regenerate with `UPDATE_GOLDEN=1 pytest tests/test_golden.py`, then read every changed file in
the diff before committing it: these files are the review of what patients are sent.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import pytest
from conftest import consecutive_versions, fixture_path

from watcher.core.diff import diff_trials
from watcher.core.glossary import Glossary
from watcher.core.record import parse_trial
from watcher.core.wording import coordinator_changes, patient_changes, trial_summary
from watcher.data import load_glossary
from watcher.data.gazetteer import load_gazetteer
from watcher.delivery.templates import Format, render_change_summary, render_trial_summary

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
DEMO = "NCT07310784__reconstructed-from-public-page.json"

# (record, audience, format, near): one of each status, study type and phase mix we hold.
TRIALS = [
    (DEMO, "patient", "text", None),
    (DEMO, "coordinator", "text", None),
    (DEMO, "patient", "html", None),
    ("NCT00208234__partrita-tigit__HEAD-2026-03-15.json", "patient", "text", None),
    ("NCT00298376__partrita-tigit__HEAD-2026-03-15.json", "patient", "text", None),
    ("NCT00603785__partrita-tigit__HEAD-2026-03-15.json", "patient", "text", None),
    ("NCT01125800__ctrdata-demo-sqlite__2024-05-16__b195accc.json", "patient", "text", None),
    ("NCT03418623__aact-spec-fixture.json", "patient", "text", None),
    ("NCT04222491__partrita-tigit__HEAD-2026-03-15.json", "patient", "text", None),
    ("NCT04903613__partrita-tigit__HEAD-2026-03-15.json", "patient", "text", None),
    ("NCT05063149__partrita-tigit__2026-03-10__66773312.json", "patient", "text", None),
    ("NCT06330974__partrita-tigit__HEAD-2026-03-15.json", "patient", "text", None),
    (
        "NCT06911827__partrita-tigit__2026-02-26__0763c69c.json",
        "patient",
        "text",
        "Guangzhou, China",
    ),
    ("NCT07268053__partrita-tigit__2026-03-10__66773312.json", "patient", "text", None),
    ("NCT06203210__partrita-tigit__2026-03-10__66773312.json", "patient", "text", "Ohio, USA"),
]
# (NCT, audience, near): the change sets between consecutive recorded versions.
CHANGES = [
    ("NCT06203210", "patient", None),  # the reopening: ~450 site changes
    ("NCT06203210", "coordinator", None),
    ("NCT06911827", "patient", "Guangzhou, China"),
    ("NCT04736173", "patient", "Philippines"),
    ("NCT07227597", "patient", None),  # a one-word criterion edit: allocation/randomization
    ("NCT07227597", "coordinator", None),
]
_SUFFIX = {"text": "txt", "html": "html"}


@cache
def glossary() -> Glossary:
    return load_glossary()


def check_golden(name: str, actual: str) -> None:
    """Compare with the golden file, or write it when UPDATE_GOLDEN=1."""
    path = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"no golden file {name}: run UPDATE_GOLDEN=1 pytest {__file__}"
    assert actual == path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("record", "audience", "fmt", "near"), TRIALS, ids=lambda v: str(v)[:11])
def test_trial_summary_matches_its_reviewed_golden_file(
    record: str, audience: str, fmt: Format, near: str | None
) -> None:
    """A trial's summary reads exactly as the reviewed golden file."""
    trial = parse_trial(json.loads(fixture_path(record).read_text(encoding="utf-8")))
    summary = trial_summary(trial, audience, glossary(), near and load_gazetteer().resolve(near))
    check_golden(f"{trial.nct_id}.{audience}.{_SUFFIX[fmt]}", render_trial_summary(summary, fmt))


@pytest.mark.parametrize(("nct_id", "audience", "near"), CHANGES, ids=lambda v: str(v))
def test_change_summary_matches_its_reviewed_golden_file(
    nct_id: str, audience: str, near: str | None
) -> None:
    """What a subscriber is told about a real change set reads as the reviewed golden file."""
    pair = next(p for p in consecutive_versions() if p[0].name.startswith(nct_id))
    old, new = (parse_trial(json.loads(p.read_text(encoding="utf-8"))) for p in pair)
    changes = diff_trials(old, new)
    if audience == "patient":
        place = near and load_gazetteer().resolve(near)
        summary = patient_changes(changes, place, glossary=glossary())
    else:
        summary = coordinator_changes(changes)
    check_golden(f"{nct_id}.changes.{audience}.txt", render_change_summary(summary, "text"))


def test_demo_golden_file_says_what_the_issue_asks() -> None:
    """NCT07310784: every item there, scales explained, comparators in words, nesting kept."""
    text = (GOLDEN / "NCT07310784.patient.txt").read_text(encoding="utf-8")
    assert "- ECOG performance status 0 to 1;" in text
    assert "  - 0: Fully active." in text
    assert "Expected survival time more than 3 months;" in text
    assert "grade 1 or lower (CTCAE V5.0)" in " ".join(text.split())
    assert "who have failed at least two lines of standard treatment:\n  - People need" in text
    summary = trial_summary(
        parse_trial(json.loads(fixture_path(DEMO).read_text())), "patient", glossary()
    )
    unwrapped = " ".join(text.split())
    assert len(summary.items) == 29  # 8 + 3 nested who can join, 18 who cannot
    for item in summary.items:
        assert all(" ".join(unit.split()) in unwrapped for unit in item.units), item.plain
