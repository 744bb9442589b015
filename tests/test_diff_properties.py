"""Properties of the diff for any two versions of a trial (hypothesis).

Versions are made from real records by the edits registries make: sites opening, closing,
disappearing, reordering, respelled or gaining a state; criteria items added, dropped, edited,
reordered or re-escaped; status, enrollment and age changes.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from typing import Any

import pytest
from conftest import load_fixture
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.core.canonical import canonical_json
from watcher.core.change import Change
from watcher.core.diff import diff_trials
from watcher.core.record import parse_trial

pytestmark = pytest.mark.slow  # hypothesis over every recorded version pair

BASES = [
    load_fixture(name)
    for name in (
        "NCT07227597__partrita-tigit__2026-03-10__66773312.json",  # contacts, criteria, arms
        "NCT06996782__partrita-tigit__2026-02-25__2cb20dd2.json",  # duplicate "Research Site"s
        "NCT02576665__biomcp-capture-fields-subset.json",  # escaped criteria, nested items
        "NCT06362252__partrita-tigit__2026-02-05__62edf6a6.json",  # mis-decoded accents
    )
]
STATUSES = [None, "RECRUITING", "NOT_YET_RECRUITING", "ACTIVE_NOT_RECRUITING", "WITHDRAWN"]
EXTRA_SITES = [
    {"facility": "Research Site", "city": "Paris", "country": "France", "status": "RECRUITING"},
    {"facility": "Research Site", "city": "Paris", "country": "France"},
    {"facility": "Hôpital Foch", "city": "Suresnes", "zip": "92151", "country": "France"},
    {"facility": 'Hă"Pital Foch', "city": "Suresnes", "zip": "92151", "country": "France"},
    {
        "facility": "Mayo Clinic",
        "city": "Rochester",
        "state": "Minnesota",
        "country": "United States",
    },
]
MIRROR = {"site_added": "site_removed", "site_removed": "site_added"}
ESCAPABLE = re.compile(r"(?<!\\)([<>\[\]])")


def _locations(raw: dict[str, Any]) -> list[dict[str, Any]]:
    places = raw["protocolSection"].setdefault("contactsLocationsModule", {})
    locations: list[dict[str, Any]] = places.setdefault("locations", [])
    return locations


@st.composite
def site_edits(draw: st.DrawFn, raw: dict[str, Any]) -> None:
    """Open, close, drop, re-contact, fill in, respell and add sites, then shuffle them all."""
    kept = []
    for site in _locations(raw)[:40]:
        action = draw(st.sampled_from(["keep", "keep", "status", "drop", "contact", "state"]))
        if action == "drop":
            continue
        if action == "status":
            site["status"] = draw(st.sampled_from(STATUSES))
        elif action == "contact":
            site["contacts"] = [{"name": "Study Coordinator", "role": "CONTACT", "phone": "555"}]
        elif action == "state":
            site["state"] = draw(st.sampled_from(["Region", None]))
        kept.append(site)
    kept += copy.deepcopy(draw(st.lists(st.sampled_from(EXTRA_SITES), max_size=4)))
    raw["protocolSection"]["contactsLocationsModule"]["locations"] = draw(st.permutations(kept))


@st.composite
def criteria_edits(draw: st.DrawFn, raw: dict[str, Any]) -> None:
    """Drop, duplicate, edit and swap criteria lines."""
    module = raw["protocolSection"]["eligibilityModule"]
    lines = str(module.get("eligibilityCriteria", "")).split("\n")
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "copy", "edit", "swap"]))
        if action == "drop":
            del lines[i]
        elif action == "copy":
            lines.insert(i, lines[i])
        elif action == "edit":
            lines[i] = lines[i] + draw(st.sampled_from([" or ECOG 2", " (within 28 days)", "s"]))
        else:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        if not lines:
            lines = [""]
    module["eligibilityCriteria"] = "\n".join(lines)


@st.composite
def versions(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """A plausible other version of `base`."""
    raw = copy.deepcopy(base)
    protocol = raw["protocolSection"]
    draw(site_edits(raw))
    if draw(st.booleans()):
        draw(criteria_edits(raw))
    if draw(st.booleans()):
        protocol["statusModule"]["overallStatus"] = draw(st.sampled_from(STATUSES[1:]))
    if draw(st.booleans()):
        protocol["designModule"]["enrollmentInfo"] = {
            "count": draw(st.integers(0, 500)),
            "type": draw(st.sampled_from(["ESTIMATED", "ACTUAL"])),
        }
    if draw(st.booleans()):
        protocol["eligibilityModule"]["minimumAge"] = draw(
            st.sampled_from(["18 Years", "12 Years"])
        )
    return raw


@st.composite
def version_pairs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    base = draw(st.sampled_from(BASES))
    return draw(versions(base)), draw(versions(base))


def _mirrored(change: Change) -> tuple[str, str, str, str]:
    """How `change` reads from the other side: added ↔ removed, old ↔ new."""
    kind = MIRROR.get(change.kind, change.kind)
    return (kind, change.field, canonical_json(change.new), canonical_json(change.old))


def _plain(change: Change) -> tuple[str, str, str, str]:
    return (change.kind, change.field, canonical_json(change.old), canonical_json(change.new))


@settings(max_examples=60, deadline=None)
@given(version_pairs())
def test_a_version_against_itself_has_no_change(pair: tuple[dict[str, Any], ...]) -> None:
    """Diffing a version with itself, or with a fresh copy of it, reports nothing."""
    raw = pair[0]
    trial = parse_trial(raw)
    assert diff_trials(trial, trial) == []
    assert diff_trials(trial, parse_trial(copy.deepcopy(raw))) == []


@settings(max_examples=60, deadline=None)
@given(version_pairs(), st.randoms(use_true_random=False))
def test_shuffling_the_sites_changes_nothing(pair: tuple[dict[str, Any], ...], rnd: Any) -> None:
    """The same sites in another order are no change."""
    raw = pair[0]
    shuffled = copy.deepcopy(raw)
    rnd.shuffle(_locations(shuffled))
    assert diff_trials(parse_trial(raw), parse_trial(shuffled)) == []


@settings(max_examples=80, deadline=None)
@given(version_pairs())
def test_diff_backwards_mirrors_diff_forwards(pair: tuple[dict[str, Any], ...]) -> None:
    """diff(b, a) is diff(a, b) read backwards: added ↔ removed, old ↔ new, same sites."""
    a, b = (parse_trial(raw) for raw in pair)
    forward, backward = diff_trials(a, b), diff_trials(b, a)
    assert Counter(map(_mirrored, forward)) == Counter(map(_plain, backward))
    sites_forward = Counter((MIRROR[c.kind], c.site) for c in forward if c.kind in MIRROR)
    assert sites_forward == Counter((c.kind, c.site) for c in backward if c.kind in MIRROR)
    sections_forward = Counter((c.detail or {}).get("section") for c in forward)
    assert sections_forward == Counter((c.detail or {}).get("section") for c in backward)


@settings(max_examples=60, deadline=None)
@given(version_pairs())
def test_every_change_is_real_and_storable(pair: tuple[dict[str, Any], ...]) -> None:
    """Each change says something changed and survives the store's JSON round trip."""
    for change in diff_trials(*(parse_trial(raw) for raw in pair)):
        if change.kind not in MIRROR:
            assert change.old != change.new
        assert Change.from_dict(json.loads(json.dumps(change.to_dict()))) == change


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(BASES), st.data())
def test_respacing_or_reescaping_criteria_is_no_change(base: dict[str, Any], data: Any) -> None:
    """Criteria that only gained spaces, trailing blanks or CommonMark escapes are unchanged."""
    raw = copy.deepcopy(base)
    module = raw["protocolSection"]["eligibilityModule"]
    text = module["eligibilityCriteria"]
    if data.draw(st.booleans()):
        text = ESCAPABLE.sub(r"\\\1", text)
    if data.draw(st.booleans()):
        text = text.replace(". ", ".  ")
    if data.draw(st.booleans()):
        text = "\n".join(line + "  " for line in text.split("\n"))
    module["eligibilityCriteria"] = text
    assert diff_trials(parse_trial(base), parse_trial(raw)) == []
