"""A saved search: what it asks for, checked when it is typed, and the registry query it becomes
(pure).

A patient rarely knows the NCT ID of the trial that will suit them; a saved search names what
they look for instead ("melanoma, recruiting, phase 2 or 3, within 50 miles of Boston") and
trialwatch asks the registry, once per data release, which trials are new to it.

Everything here is checked when the search is typed, so a typo is one `Error: …` line naming
the flag and listing what it accepts, not an empty search found silently a month later. The
registry query uses only API v2's documented parameters (`fixtures/ctgov/ctg-oas-v2.yaml`,
DESIGN.md §3): `query.cond`, `query.term`, `query.spons`, `filter.overallStatus`,
`filter.geo=distance(lat,lon,50mi)`, and `filter.advanced` for what has no parameter of its
own: the phase (`AREA[Phase](PHASE2 OR PHASE3)`: there is no `filter.phase`) and "only what
is new since the last run" (`AREA[StudyFirstPostDate]RANGE[date,MAX]`, or
`AREA[LastUpdatePostDate]` for a search that also wants trials that newly match).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from watcher.core.places import Near
from watcher.errors import InputError

# The registry's `Status` and `Phase` enums (ctg-oas-v2.yaml, components.schemas).
STATUSES: tuple[str, ...] = (
    "ACTIVE_NOT_RECRUITING",
    "COMPLETED",
    "ENROLLING_BY_INVITATION",
    "NOT_YET_RECRUITING",
    "RECRUITING",
    "SUSPENDED",
    "TERMINATED",
    "WITHDRAWN",
    "AVAILABLE",
    "NO_LONGER_AVAILABLE",
    "TEMPORARILY_NOT_AVAILABLE",
    "APPROVED_FOR_MARKETING",
    "WITHHELD",
    "UNKNOWN",
)
PHASES: tuple[str, ...] = ("EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4", "NA")
# What `--phase` accepts for each registry phase, as people write it.
_PHASE_WORDS: dict[str, str] = {
    "early1": "EARLY_PHASE1",
    "earlyphase1": "EARLY_PHASE1",
    "0": "EARLY_PHASE1",
    "1": "PHASE1",
    "2": "PHASE2",
    "3": "PHASE3",
    "4": "PHASE4",
    "na": "NA",
    "notapplicable": "NA",
}
PHASE_CHOICES = "1, 2, 3, 4, early1, na"
# The largest page API v2 serves: a search's whole answer in as few requests as possible.
PAGE_SIZE = 1000
# A baseline needs only the IDs; a new match's notice needs the protocol (key facts, what the
# study tests, sites with their geoPoint), never the results or the derived MeSH trees.
BASELINE_FIELDS = "NCTId"
NOTICE_FIELDS = "ProtocolSection"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,59}")


@dataclass(frozen=True, slots=True)
class SavedSearch:
    """A search as stored: what it asks for and what a new match does.

    `near` always has a point (the registry's `filter.geo` measures from one). `watch_matches`
    makes every new match a watched trial its subscribers follow; `notify_existing` makes the
    first run tell of what already matches instead of only recording it; `updated_too` also
    catches older trials that newly match (a status that became "recruiting"), by their
    update date rather than their first-post date.
    """

    name: str
    condition: str | None = None
    term: str | None = None
    sponsor: str | None = None
    statuses: tuple[str, ...] = ()
    phases: tuple[str, ...] = ()
    near: Near | None = None
    watch_matches: bool = False
    notify_existing: bool = False
    updated_too: bool = False
    id: int = 0
    last_release: str | None = None  # the data release of the last run; None: never run

    def describe(self) -> str:
        """The search in one line, as `search list` and a notice name it."""
        parts = [f"condition “{self.condition}”"] if self.condition else []
        parts += [f"words “{self.term}”"] if self.term else []
        parts += [f"sponsor “{self.sponsor}”"] if self.sponsor else []
        if self.statuses:
            parts.append(
                "status " + " or ".join(s.lower().replace("_", " ") for s in self.statuses)
            )
        if self.phases:
            parts.append("phase " + " or ".join(_phase_word(p) for p in self.phases))
        if self.near is not None:
            parts.append(f"within {self.near.within} of {self.near.name}")
        return ", ".join(parts)

    def terms(self) -> tuple[tuple[str, str], ...]:
        """What the search asks for, one (label, words) row per part given, for its web page."""
        rows = [
            (label, value)
            for label, value in (
                ("Condition", self.condition),
                ("Words", self.term),
                ("Sponsor", self.sponsor),
            )
            if value
        ]
        if self.statuses:
            words = " or ".join(s.lower().replace("_", " ") for s in self.statuses)
            rows.append(("Status", words[:1].upper() + words[1:]))
        if self.phases:
            rows.append(("Phase", " or ".join(_phase_word(p) for p in self.phases)))
        if self.near is not None:
            rows.append(("Where", f"A site within {self.near.within} of {self.near.name}"))
        return tuple(rows)


def _phase_word(phase: str) -> str:
    return {"EARLY_PHASE1": "early 1", "NA": "not applicable"}.get(
        phase, phase.removeprefix("PHASE")
    )


def _items(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def parse_statuses(text: str | None) -> tuple[str, ...]:
    """`--status recruiting,not_yet_recruiting` → the registry's statuses (any case, spaces or
    hyphens for underscores); an unknown one is an `InputError` listing the valid values."""
    found = []
    for item in _items(text):
        status = re.sub(r"[\s-]+", "_", item).upper()
        if status not in STATUSES:
            valid = ", ".join(s.lower() for s in STATUSES)
            raise InputError(f"--status {item!r} is not a trial status; choose from {valid}")
        found.append(status)
    return tuple(dict.fromkeys(found))


def parse_phases(text: str | None) -> tuple[str, ...]:
    """`--phase 2,3` (or `phase2`, `early1`, `na`) → the registry's phases; an unknown one is
    an `InputError` listing the valid values."""
    found = []
    for item in _items(text):
        key = re.sub(r"[\s_/-]+", "", item.lower()).removeprefix("phase")
        phase = _PHASE_WORDS.get(key)
        if phase is None:
            raise InputError(f"--phase {item!r} is not a trial phase; choose from {PHASE_CHOICES}")
        found.append(phase)
    return tuple(p for p in PHASES if p in found)  # the registry's order, each once


def new_search(
    name: str,
    *,
    condition: str | None = None,
    term: str | None = None,
    sponsor: str | None = None,
    status: str | None = None,
    phase: str | None = None,
    near: Near | None = None,
    watch_matches: bool = False,
    notify_existing: bool = False,
    updated_too: bool = False,
) -> SavedSearch:
    """A search as typed, checked: a name, at least one of condition, words and sponsor (a
    status, phase or place alone would match most of the registry), a place with a point."""
    if not _NAME.fullmatch(name):
        raise InputError(
            f"NAME {name!r}: give a short name of letters, digits, spaces, '-', '_' or '.' "
            "(up to 60), starting with a letter or digit"
        )
    texts = {
        flag: (value or "").strip() or None
        for flag, value in (("--condition", condition), ("--term", term), ("--sponsor", sponsor))
    }
    if not any(texts.values()):
        raise InputError(
            "the search is empty: give --condition, --term or --sponsor (e.g. --condition melanoma)"
        )
    if near is not None and near.point is None:
        raise InputError(
            f"--near {near.name!r} is a whole country or state; a search measures from a point: "
            "give a city, such as 'Boston, MA'"
        )
    return SavedSearch(
        name=name,
        condition=texts["--condition"],
        term=texts["--term"],
        sponsor=texts["--sponsor"],
        statuses=parse_statuses(status),
        phases=parse_phases(phase),
        near=near,
        watch_matches=watch_matches,
        notify_existing=notify_existing,
        updated_too=updated_too,
    )


def geo_filter(near: Near) -> str:
    """`distance(42.35843,-71.05977,50mi)`: the pattern the API documents (no exponent)."""
    assert near.point is not None  # `new_search` refuses a place without one
    lat, lon = (f"{v:.5f}".rstrip("0").rstrip(".") for v in near.point)
    return f"distance({lat},{lon},{near.within.amount:g}{near.within.unit})"


def query_params(
    search: SavedSearch, *, since: date | None = None, fields: str = NOTICE_FIELDS
) -> dict[str, str]:
    """The `GET /studies` parameters of `search` (without `pageToken`, added per page).

    `since` limits the answer to trials first posted (or, `updated_too`, updated) on or after
    that day: what can be new since the last run.
    """
    params: dict[str, str] = {}
    for name, value in (
        ("query.cond", search.condition),
        ("query.term", search.term),
        ("query.spons", search.sponsor),
    ):
        if value:
            params[name] = value
    if search.statuses:
        params["filter.overallStatus"] = ",".join(search.statuses)
    if search.near is not None:
        params["filter.geo"] = geo_filter(search.near)
    advanced = []
    if len(search.phases) == 1:
        advanced.append(f"AREA[Phase]{search.phases[0]}")
    elif search.phases:
        advanced.append(f"AREA[Phase]({' OR '.join(search.phases)})")
    if since is not None:
        area = "LastUpdatePostDate" if search.updated_too else "StudyFirstPostDate"
        advanced.append(f"AREA[{area}]RANGE[{since.isoformat()},MAX]")
    if advanced:
        params["filter.advanced"] = " AND ".join(advanced)
    params["fields"] = fields
    params["pageSize"] = str(PAGE_SIZE)
    return params


def since_day(release: str) -> date:
    """The day a data release (`/version`'s `dataTimestamp`) was made: what a later run asks
    from. A trial first posted that day is asked for again by the next run, and is stored once
    (a match is kept per search): the overlap costs nothing, a gap would lose a trial."""
    return date.fromisoformat(release[:10])
