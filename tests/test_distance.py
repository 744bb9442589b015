"""Places by distance: what `--near` resolves to, how far sites are, who hears about which."""

from __future__ import annotations

import copy
import mailbox
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from conftest import ReplayServer, Trialwatch, load_fixture

from watcher.core.change import Change, SiteRef
from watcher.core.diff import diff_trials
from watcher.core.distance import Radius, distance_words, haversine_km, parse_within
from watcher.core.gazetteer import resolve_near
from watcher.core.places import Near
from watcher.core.record import parse_trial
from watcher.core.subscriptions import Subscription, select
from watcher.core.wording import patient_changes, trial_summary
from watcher.data import load_glossary
from watcher.data.gazetteer import load_gazetteer
from watcher.delivery.templates import render_change_summary
from watcher.errors import InputError
from watcher.store.database import Store
from watcher.store.migrations import migrations

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SITES = "protocolSection.contactsLocationsModule.locations"
# NCT06203210, recorded twice five days apart: 230 sites start recruiting, among them
# Dana-Farber in Boston and NYU in New York.
REOPENING = (
    "NCT06203210__partrita-tigit__2026-02-05__62edf6a6.json",
    "NCT06203210__partrita-tigit__2026-02-10__ed22b557.json",
)
BOSTON = SiteRef("Dana-Farber", "Boston", "Massachusetts", None, "United States", (42.358, -71.06))
NEW_YORK = SiteRef("NYU", "New York", "New York", None, "United States", (40.714, -74.006))
WORCESTER = SiteRef("UMass", "Worcester", "Massachusetts", None, "United States", (42.263, -71.802))


def near(text: str, within: str | None = None) -> Near:
    place = resolve_near(text, within, load_gazetteer)
    assert place is not None
    return place


def opened(site: SiteRef) -> Change:
    return Change("site_added", SITES, None, "RECRUITING", "major", site)


# -- resolving a place ---------------------------------------------------------------------------


def test_a_misspelt_city_is_refused_with_the_right_one_suggested() -> None:
    """`--near "Bejing, China"` is not taken on trust: it asks whether Beijing was meant."""
    with pytest.raises(InputError, match=r'did you mean "Beijing, China"\?'):
        near("Bejing, China")


def test_a_place_that_is_not_one_is_refused() -> None:
    """`--near Atlantis` is refused: alone it names no place to be sure of (the one real
    Atlantis is a town in South Africa, offered for the subscriber to confirm)."""
    with pytest.raises(InputError, match="add its country") as refused:
        near("Atlantis")
    assert '"Atlantis, South Africa"' in str(refused.value)
    with pytest.raises(InputError, match="no city called 'Atlantis' in Greece"):
        near("Atlantis, Greece")


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("Cambridge, MA", "Cambridge, Massachusetts, United States"),
        ("cambridge, massachusetts, usa", "Cambridge, Massachusetts, United States"),
        ("Cambridge, UK", "Cambridge, United Kingdom"),
        ("New York, NY", "New York City, New York, United States"),
        ("Boston", "Boston, Massachusetts, United States"),
        ("Seoul, Korea, Republic of", "Seoul, South Korea"),
        ("Guangzhou, Guangdong, China", "Guangzhou, Guangdong, China"),
    ],
)
def test_cities_resolve_to_one_point(typed: str, name: str) -> None:
    """A city with its country, or its US state (spelled out or abbreviated), is one point."""
    place = near(typed)
    assert place.name == name and place.point is not None


@pytest.mark.parametrize(
    ("typed", "name"),
    [("China", "China"), ("UK", "United Kingdom"), ("Ohio, USA", "Ohio, United States")],
)
def test_countries_and_states_are_the_whole_of_them(typed: str, name: str) -> None:
    """A country or a US state has no point: all of it is near, matched by name."""
    place = near(typed)
    assert (place.name, place.point) == (name, None)
    assert place.includes(SiteRef("H", "Shanghai", None, None, "China", (31.2, 121.5))) == (
        name == "China"
    )


@pytest.mark.parametrize(
    ("typed", "choices"),
    [
        ("Cambridge", ["Cambridge, United Kingdom", "Cambridge, Massachusetts, United States"]),
        ("Springfield, USA", ["Springfield, Missouri", "Springfield, Illinois"]),
    ],
)
def test_a_name_several_places_share_asks_which(typed: str, choices: list[str]) -> None:
    """A name that could be several places is refused with the likeliest, to pick from."""
    with pytest.raises(InputError) as refused:
        near(typed)
    assert all(choice in str(refused.value) for choice in choices)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("near_text", "within", "message"),
    [
        ("Boston", "10", "give a distance with its unit"),
        ("Boston", "10 furlongs", "give a distance with its unit"),
        ("Boston", "0km", "above 0"),
        ("Boston", "40000km", "above 0"),
        ("China", "10km", "whole country or state"),
    ],
)
def test_a_radius_that_means_nothing_is_refused(near_text: str, within: str, message: str) -> None:
    """`--within` needs a number, a unit and a city to measure from."""
    with pytest.raises(InputError, match=message):
        near(near_text, within)


def test_within_without_near_is_refused_and_neither_is_no_place() -> None:
    """`--within` alone is a mistake; neither option is no place at all."""
    with pytest.raises(InputError, match="give --near too"):
        resolve_near(None, "10km", load_gazetteer)
    assert resolve_near(None, None, load_gazetteer) is None


# -- distances -----------------------------------------------------------------------------------


def test_distances_and_their_words() -> None:
    """Haversine distances as a map shows them, in the unit the subscriber wrote."""
    assert parse_within(None) == Radius(100, "km")
    assert parse_within("60 MI") == Radius(60, "mi") and parse_within("60mi").km == pytest.approx(
        96.56, abs=0.01
    )
    cambridge = near("Cambridge, MA").point
    assert cambridge is not None and BOSTON.geo and NEW_YORK.geo
    assert haversine_km(cambridge, BOSTON.geo) == pytest.approx(4.0, abs=0.3)
    assert haversine_km(BOSTON.geo, NEW_YORK.geo) == pytest.approx(306, abs=3)
    assert distance_words(12.4) == "12 km away"
    assert distance_words(96.56, "mi") == "60 mi away"
    assert distance_words(0.4, "mi") == "less than 1 mi away"


# -- who hears about which site ------------------------------------------------------------------


def test_cambridge_within_10km_hears_of_boston_not_new_york_on_the_recorded_trial() -> None:
    """On NCT06203210's recorded reopening, `--near "Cambridge, MA" --within 10km` is told
    Dana-Farber in Boston started recruiting, and none of the 229 other sites."""
    old, new = (parse_trial(load_fixture(name)) for name in REOPENING)
    changes = diff_trials(old, new)
    patient = Subscription(1, 1, "NCT06203210", near=near("Cambridge, MA", "10km"))
    sites = {(c.site.facility, c.site.city) for c in select(patient, changes) if c.site}
    assert sites == {("Dana-Farber Cancer Institute", "Boston")}
    assert any(c.site and c.site.city == "New York" for c in changes)
    told = render_change_summary(patient_changes(select(patient, changes), patient.near), "text")
    assert "Boston" in told and "New York" not in told


def test_a_new_boston_site_reaches_cambridge_and_a_new_york_one_does_not() -> None:
    """A site added in Boston (to a copy of a recorded version) is told to a patient 10 km
    away in Cambridge; one added in New York is not."""
    raw = load_fixture(REOPENING[1])
    grown = copy.deepcopy(raw)
    sites: list[dict[str, Any]] = grown["protocolSection"]["contactsLocationsModule"]["locations"]
    sites.append(_site("Boston Medical Center", "Boston", "Massachusetts", 42.35843, -71.05977))
    sites.append(_site("Mount Sinai", "New York", "New York", 40.71427, -74.00597))
    changes = diff_trials(parse_trial(raw), parse_trial(grown))
    assert {c.kind for c in changes} == {"site_added"}
    patient = Subscription(1, 1, "NCT06203210", near=near("Cambridge, MA", "10km"))
    assert [c.site.facility for c in select(patient, changes) if c.site] == [
        "Boston Medical Center"
    ]


def test_miles_are_miles() -> None:
    """60 mi reaches Worcester (59 km, 36 mi, from Cambridge); 20 mi does not."""
    far, near_ = near("Cambridge, MA", "20mi"), near("Cambridge, MA", "60mi")
    assert not far.includes(WORCESTER) and near_.includes(WORCESTER)
    assert near_.away(WORCESTER) == "36 mi away"
    assert near("Cambridge, MA", "60km").away(WORCESTER) == "59 km away"


def test_a_site_without_a_geopoint_is_matched_by_name() -> None:
    """Without coordinates a Boston site is near Cambridge, MA by its state; New York is not."""
    place = near("Cambridge, MA", "10km")
    no_point = SiteRef("Dana-Farber", "Boston", "Massachusetts", None, "United States")
    far_no_point = SiteRef("NYU", "New York", "New York", None, "United States")
    assert place.includes(no_point) and not place.includes(far_no_point)
    assert place.away(no_point) == ""


# -- summaries -----------------------------------------------------------------------------------


def test_summary_sites_are_nearest_first_with_their_distance() -> None:
    """A patient near Cambridge, MA reads Boston first, "3 mi away", then sites by distance."""
    trial = parse_trial(load_fixture(REOPENING[1]))
    summary = trial_summary(trial, "patient", load_glossary(), near("Cambridge, MA", "60mi"))
    first = summary.sites[0]
    assert first.place == "Boston, Massachusetts, United States"
    assert first.nearness == "3 mi away"
    distances = [s.distance_km for s in summary.sites if s.distance_km is not None]
    assert distances == sorted(distances)


# -- the store and the command line --------------------------------------------------------------


def test_the_store_keeps_the_resolved_place_and_a_name_only_one(store: Store) -> None:
    """The point and radius come back as resolved (the daemon needs no gazetteer); a place
    stored as a name only comes back as one, to be matched by name."""
    store.add_watches(["NCT06203210", "NCT07310784"], NOW)
    cambridge = near("Cambridge, MA", "60mi")
    store.subscribe("pat@example.org", ["NCT06203210"], NOW, near=cambridge)
    store.subscribe("old@example.org", ["NCT07310784"], NOW, near=Near("Bejing, China"))
    got = {person.email: sub.near for person, sub in store.subscriptions()}
    assert got == {"pat@example.org": cambridge, "old@example.org": Near("Bejing, China")}


def test_a_subscription_from_before_keeps_its_place_by_name(tmp_path: Path) -> None:
    """A database from before places were resolved: the subscription's "near" text is kept
    and read as a place matched by name, so its site changes are filtered as they were."""
    path = tmp_path / "t.db"
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before="m006_subscription_places")
    db["trials"].insert({"nct_id": "NCT06203210", "added_at": "2026-01-01T00:00:00+00:00"})
    db["subscribers"].insert(
        {
            "email": "old@example.org",
            "unsubscribe_token": "u-tok",
            "feed_token": "f-tok",
            "created_at": "2026-01-01T00:00:00+00:00",
        }
    )
    db["subscriptions"].insert(
        {
            "subscriber_id": 1,
            "nct_id": "NCT06203210",
            "audience": "patient",
            "delivery": "immediate",
            "near": "Boston, MA, USA",
            "created_at": "2026-01-01T00:00:00+00:00",
        }
    )
    db.close()
    with Store(path) as store:
        ((_, sub),) = store.subscriptions()
    assert sub.near == Near("Boston, MA, USA")
    assert sub.near.includes(WORCESTER) and not sub.near.includes(NEW_YORK)  # Massachusetts


def test_subscribe_refuses_an_unknown_place_in_one_line(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """The command line says what was wrong and what was likely meant, and stores nothing."""
    replay.registry.publish(load_fixture(REOPENING[0]))
    trialwatch("watch", "add", "NCT06203210")
    for place, said in (("Bejing, China", '"Beijing, China"'), ("Atlantis", "Atlantis")):
        err = trialwatch("subscribe", "pat@example.org", "NCT06203210", "--near", place, expect=2)
        assert err.stderr.startswith("Error: --near") and said in err.stderr
        assert err.stderr.count("\n") == 1
    assert trialwatch.json("subscribers") == []


def test_cambridge_subscriber_gets_the_boston_site_by_email(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """End to end: subscribe near Cambridge, MA within 10 km, and the reopening email names
    Boston's site, with its distance in the site list, and no New York site as a change."""
    replay.registry.publish(load_fixture(REOPENING[0]))
    trialwatch("watch", "add", "NCT06203210")
    said = trialwatch(
        "subscribe", "pat@example.org", "NCT06203210", "--near", "Cambridge, MA", "--within", "10km"
    ).stdout
    assert "near Cambridge, Massachusetts, United States (within 10 km)" in said
    (listed,) = trialwatch.json("subscribers")[0]["subscriptions"]
    assert (listed["near"], listed["within"]) == (
        "Cambridge, Massachusetts, United States",
        "10 km",
    )
    trialwatch("check")
    replay.registry.publish(load_fixture(REOPENING[1]))
    trialwatch("check")
    (message,) = [  # the welcome email came first, at subscribing
        m
        for m in mailbox.Maildir(trialwatch.state_dir / "maildir", create=False)
        if not str(m["Subject"]).startswith("You now follow")
    ]
    body = message.get_payload()[0].get_payload(decode=True).decode("utf-8")
    what_changed, sites = body.split("Sites nearest to", 1)
    assert "Boston" in what_changed and "New York" not in what_changed
    assert "Dana-Farber Cancer Institute, Boston" in sites and "(4 km away)" in sites


def _site(facility: str, city: str, state: str, lat: float, lon: float) -> dict[str, Any]:
    return {
        "facility": facility,
        "status": "RECRUITING",
        "city": city,
        "state": state,
        "country": "United States",
        "geoPoint": {"lat": lat, "lon": lon},
    }
