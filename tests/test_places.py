"""Where a subscriber is and which sites are near it: one rule for emails, feeds, summaries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watcher.core.change import Change, SiteRef
from watcher.core.places import (
    ELSEWHERE,
    SAME_CITY,
    SAME_COUNTRY,
    SAME_REGION,
    Near,
    parse_near,
    place_words,
)
from watcher.core.subscriptions import Subscription, wants
from watcher.errors import InputError


def site(city: str | None, state: str | None, country: str | None) -> SiteRef:
    return SiteRef("A Hospital", city, state, None, country)


BEIJING = site("Beijing", "Beijing Municipality", "China")
SHANGHAI = site("Shanghai", None, "China")
CLEVELAND = site("Cleveland", "Ohio", "United States")
COLUMBUS = site("Columbus", "Ohio", "United States")
BOSTON = site("Boston", "Massachusetts", "United States")
SEOUL = site("Seoul", None, "Korea, Republic of")


@pytest.mark.parametrize(
    ("near", "where", "rank"),
    [
        ("Beijing, China", BEIJING, SAME_CITY),
        ("beijing municipality, PRC", BEIJING, SAME_CITY),
        ("Beijing, China", SHANGHAI, SAME_COUNTRY),
        ("Cleveland, OH, USA", CLEVELAND, SAME_CITY),
        ("Cleveland, OH, USA", COLUMBUS, SAME_REGION),
        ("Ohio, United States", COLUMBUS, SAME_REGION),
        ("Ohio, United States", BOSTON, SAME_COUNTRY),
        ("Cleveland, Ohio, United States", SHANGHAI, ELSEWHERE),
        ("Seoul, Korea, Republic of", SEOUL, SAME_CITY),
        ("South Korea", SEOUL, SAME_COUNTRY),
        ("Boston", BOSTON, SAME_CITY),
        ("OH", COLUMBUS, SAME_REGION),
        ("China", BOSTON, ELSEWHERE),
    ],
)
def test_sites_rank_from_same_city_to_elsewhere(near: str, where: SiteRef, rank: int) -> None:
    """Typed places match registry addresses despite case, aliases and abbreviations."""
    place = parse_near(near)
    assert place is not None and place.nearness(where) == rank


def test_a_city_includes_its_region_a_country_all_of_it() -> None:
    """A city keeps changes in its city and region; a country keeps its whole country."""
    cleveland, china = parse_near("Cleveland, Ohio, United States"), parse_near("China")
    assert cleveland is not None and china is not None
    assert cleveland.includes(COLUMBUS) and not cleveland.includes(BOSTON)
    assert china.includes(SHANGHAI) and not china.includes(BOSTON)


def test_no_place_is_none_and_an_empty_place_is_refused() -> None:
    """No --near means no filter; one that names nothing is an error, not a silent no-op."""
    assert parse_near(None) is None
    with pytest.raises(InputError, match="names no place"):
        parse_near(" , ,")


def test_place_words_name_the_state_only_in_the_united_states() -> None:
    """US cities repeat across states, so the state is named there and nowhere else."""
    assert place_words(CLEVELAND) == "Cleveland, Ohio, United States"
    assert place_words(BEIJING) == "Beijing, China"
    assert place_words(site(None, None, None)) == "an unnamed place"


def test_a_place_stored_before_distances_is_matched_by_name() -> None:
    """A subscription stored as text only (no point): near Cleveland keeps a new Columbus site
    (same state) but not a Boston one, as before places were resolved."""
    sub = Subscription(1, 1, "NCT07310784", near=Near("Cleveland, OH, USA"))
    field = "protocolSection.contactsLocationsModule.locations"
    opened = [
        Change("site_added", field, None, "RECRUITING", "major", s) for s in (COLUMBUS, BOSTON)
    ]
    status = Change("status", "protocolSection.statusModule.overallStatus", "A", "B", "major")
    assert [wants(sub, c) for c in [*opened, status]] == [True, False, True]


@given(st.text(max_size=40), st.sampled_from([BEIJING, CLEVELAND, SEOUL, site(None, None, None)]))
def test_any_typed_place_either_parses_or_is_refused(text: str, where: SiteRef) -> None:
    """Whatever a person types, the answer is a rank or a clear InputError, never a crash."""
    try:
        place = parse_near(text)
    except InputError:
        return
    assert place is not None
    assert place.nearness(where) in (SAME_CITY, SAME_REGION, SAME_COUNTRY, ELSEWHERE)
