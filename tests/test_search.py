"""Saved searches, pure: checked when typed, and the documented API v2 query each becomes."""

from __future__ import annotations

import re
from datetime import date

import pytest

from watcher.core.distance import Radius
from watcher.core.places import Near
from watcher.core.search import (
    PHASES,
    STATUSES,
    new_search,
    parse_phases,
    parse_statuses,
    query_params,
    since_day,
)
from watcher.errors import InputError

DOCUMENTED = (
    "query.cond",
    "query.term",
    "query.spons",
    "filter.overallStatus",
    "filter.geo",
    "filter.advanced",
)
GEO_PATTERN = r"^distance\(-?\d+(\.\d+)?,-?\d+(\.\d+)?,\d+(\.\d+)?(km|mi)?\)$"
BOSTON = Near("Boston, Massachusetts, United States", (42.35843, -71.05977), Radius(50, "mi"))


def test_statuses_and_phases_are_read_as_people_write_them() -> None:
    """Any case, spaces or hyphens; phases by number; each once, in the registry's order."""
    assert parse_statuses("Recruiting, not-yet recruiting") == ("RECRUITING", "NOT_YET_RECRUITING")
    assert parse_phases("3,2,phase 2,early1,NA") == ("EARLY_PHASE1", "PHASE2", "PHASE3", "NA")


def test_an_unknown_status_names_the_flag_and_every_valid_value() -> None:
    """A typo is refused when typed, with what would have been accepted."""
    with pytest.raises(InputError) as caught:
        parse_statuses("recruting")
    message = str(caught.value)
    assert message.startswith("--status 'recruting' is not a trial status")
    assert all(status.lower() in message for status in STATUSES)


def test_an_unknown_phase_names_the_flag_and_the_valid_values() -> None:
    """`--phase 5` is refused with the phases a search can ask for."""
    with pytest.raises(InputError, match=r"^--phase '5' is not a trial phase; choose from 1, 2"):
        parse_phases("2,5")


def test_an_empty_search_is_refused_naming_the_flags() -> None:
    """A status or a place alone would match most of the registry: a query is required."""
    with pytest.raises(InputError, match="--condition, --term or --sponsor"):
        new_search("everything", status="recruiting", condition="  ")


def test_a_place_without_a_point_is_refused() -> None:
    """`filter.geo` measures from a point: a whole country cannot be the centre."""
    with pytest.raises(InputError, match=r"^--near 'France' is a whole country"):
        new_search("fr", condition="asthma", near=Near("France"))


def test_a_search_becomes_documented_parameters_only() -> None:
    """Condition, statuses, the place and phases; `since` adds the first-post range."""
    search = new_search(
        "melanoma-boston",
        condition="melanoma",
        sponsor="Merck",
        status="recruiting,not_yet_recruiting",
        phase="2,3",
        near=BOSTON,
    )
    assert query_params(search, since=date(2026, 3, 15)) == {
        "query.cond": "melanoma",
        "query.spons": "Merck",
        "filter.overallStatus": "RECRUITING,NOT_YET_RECRUITING",
        "filter.geo": "distance(42.35843,-71.05977,50mi)",
        "filter.advanced": "AREA[Phase](PHASE2 OR PHASE3) AND "
        "AREA[StudyFirstPostDate]RANGE[2026-03-15,MAX]",
        "fields": "ProtocolSection",
        "pageSize": "1000",
    }
    # The parameters and the filter.geo pattern of ctg-oas-v2.yaml (GET /studies, API 2.0.5).
    documented = {*DOCUMENTED, "fields", "pageSize", "pageToken"}
    assert set(query_params(search)) <= documented
    assert re.fullmatch(GEO_PATTERN, query_params(search)["filter.geo"])


def test_one_phase_and_updated_trials_read_as_the_registry_expects() -> None:
    """One phase needs no brackets; `--include-updated` asks by update date instead."""
    search = new_search("p2", term="TIGIT", phase="2", updated_too=True)
    params = query_params(search, since=since_day("2026-03-15T09:00:00"), fields="NCTId")
    assert params["query.term"] == "TIGIT"
    assert params["filter.advanced"] == (
        "AREA[Phase]PHASE2 AND AREA[LastUpdatePostDate]RANGE[2026-03-15,MAX]"
    )
    assert params["fields"] == "NCTId"
    assert "filter.geo" not in params and "filter.overallStatus" not in params


def test_phase_names_are_the_registrys() -> None:
    """The phases a search sends are the API's `Phase` enum."""
    assert set(parse_phases("0,1,2,3,4,na")) == set(PHASES)


def test_describe_says_the_search_in_words() -> None:
    """`search list` and the notice name the search by what it asks."""
    search = new_search("m", condition="melanoma", status="recruiting", phase="2,3", near=BOSTON)
    assert search.describe() == (
        "condition “melanoma”, status recruiting, phase 2 or 3, "
        "within 50 mi of Boston, Massachusetts, United States"
    )
