"""Sites keep their identity through the registry's renames: one `site_info`, never closed+opened.

The real renames are in `test_diff.py`'s table (NCT05581004: "N. Efkapria-Pavlos Melas" →
"Pavlos Melas", same zip; NCT07221253: "Lichtenberg" → "Berlin", same zip, 6 km). Here the
registry's bulk housekeeping is replayed on a real record: a city renamed with its geocode
moved, a "… City" suffix dropped, a facility that gains a trailing dot.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import load_fixture

from watcher.core.change import PATIENT_KINDS, SEVERITY
from watcher.core.diff import diff_trials
from watcher.core.matching import distance_km
from watcher.core.record import parse_trial
from watcher.core.subscriptions import Subscription, select
from watcher.core.wording.exact import format_changes
from watcher.core.wording.sentences import change_sentence
from watcher.data.gazetteer import load_gazetteer

RECORD = "NCT04895709__partrita-tigit__2026-02-11__afb21bfb.json"  # six Italian sites
PASCALE = "Istituto Nazionale Tumori IRCCS Fondazione Pascale"  # Napoli, zip 80131


def _with_site(edit: dict[str, Any]) -> tuple[Any, Any]:
    """The record with the Pascale site as it is and as `edit` leaves it."""
    old = load_fixture(RECORD)
    new = copy.deepcopy(old)
    for location in new["protocolSection"]["contactsLocationsModule"]["locations"]:
        if location.get("facility") == PASCALE:
            location.update(edit)
    return parse_trial(old), parse_trial(new)


@pytest.mark.parametrize(
    "edit",
    [
        # Napoli → Naples, the geocode moved to the city's centre (21 km), zip kept.
        {"city": "Naples", "geoPoint": {"lat": 40.85216, "lon": 14.26811}},
        # The same without a zip on the new side: the coordinates alone tell it is the same site.
        {"city": "Naples", "zip": None, "geoPoint": {"lat": 40.85216, "lon": 14.26811}},
        # A facility that gains a trailing dot and a "… City" suffix added to the city.
        {"facility": PASCALE + ".", "city": "Napoli City"},
    ],
    ids=["renamed", "renamed-no-zip", "suffix-and-dot"],
)
def test_a_renamed_city_is_one_info_change(edit: dict[str, Any]) -> None:
    """Not a site removed and a site added: one `site_info` with the old and new city."""
    old, new = _with_site(edit)
    (change,) = diff_trials(old, new)
    assert change.kind == "site_info" and SEVERITY["site_info"] == "info"
    assert change.old == {"city": "Napoli"} and change.new == {"city": edit["city"]}
    assert f"city Napoli → {edit['city']}" in format_changes([change])
    assert change_sentence(change) == (
        f"The registry renamed the address of {PASCALE}: city {edit['city']} (before: Napoli). "
        "It is the same site."
    )
    mirrored = diff_trials(new, old)
    assert [(c.kind, c.old, c.new) for c in mirrored] == [("site_info", change.new, change.old)]


def test_a_patient_near_the_renamed_site_hears_nothing() -> None:
    """`site_info` is not a patient kind: nobody near Naples is told a site closed or opened."""
    old, new = _with_site({"city": "Naples", "geoPoint": {"lat": 40.85216, "lon": 14.26811}})
    changes = diff_trials(old, new)
    assert "site_info" not in PATIENT_KINDS
    patient = Subscription(1, 1, "NCT04895709", near=load_gazetteer().resolve("Naples, Italy"))
    assert select(patient, changes) == []
    coordinator = Subscription(2, 2, "NCT04895709", audience="coordinator")
    assert [c.kind for c in select(coordinator, changes)] == ["site_info"]


@pytest.mark.parametrize(
    "edit",
    [
        # Bari is 200 km from Napoli: too far to be a rename (like the real NCT04736173 pair,
        # "Istanbul" → "Kocaeli", 197 km, which stays two changes).
        {"city": "Bari", "zip": None, "geoPoint": {"lat": 41.11773, "lon": 16.85118}},
        # Another zip is another site, however close (the real NCT06989112 Madison pair).
        {"city": "Naples", "zip": "80138", "geoPoint": {"lat": 40.85216, "lon": 14.26811}},
    ],
    ids=["far", "other-zip"],
)
def test_a_site_elsewhere_is_still_removed_and_added(edit: dict[str, Any]) -> None:
    """Same facility name, but far away or at another zip: a real move, reported as such."""
    old, new = _with_site(edit)
    assert sorted(c.kind for c in diff_trials(old, new)) == ["site_added", "site_removed"]


def test_distance_is_the_great_circle() -> None:
    """Haversine: Napoli's two geocodes are 21 km apart, Rome to Milan about 477 km."""
    assert distance_km((40.87618, 14.5195), (40.85216, 14.26811)) == pytest.approx(21.3, abs=0.2)
    assert distance_km((41.9028, 12.4964), (45.4642, 9.19)) == pytest.approx(477, abs=3)
    assert distance_km((10.0, 20.0), (10.0, 20.0)) == 0.0
