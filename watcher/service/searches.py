"""Saved searches at work: run each once per data release, store what is new, tell who asked.

A check (`watcher.service.check.check_now`) has just asked `/version`; `run_searches` takes
that release and, for each saved search not yet run against it:

1. asks the registry (`RegistryClient.search`) for the search's trials, limited by
   `filter.advanced` to those first posted (or updated, `updated_too`) since the release of
   its last run; the first run asks for everything, as IDs only, unless `notify_existing`;
2. keeps the trials it has not matched before (a match is stored once per search);
3. on the first run, records them as the baseline and tells nobody (a new search must not mail
   400 old trials), unless `notify_existing`; later, queues one email per subscriber grouping
   every new match (`watcher.core.search_notice`), and with `watch_matches` watches each
   match and subscribes the search's subscribers to it;
4. writes all of that, and the release it ran against, in one transaction.

A search already run against this release costs no request at all. A search the registry
fails stores nothing and is tried again next check; the others go on. `shown_matches` is what
a search's web page lists: its stored matches, newest first, in plain words when stored here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from watcher.config import Settings
from watcher.core.canonical import stamp_of
from watcher.core.clean import clean_record
from watcher.core.distance import distance_words
from watcher.core.glossary import Glossary
from watcher.core.ids import registry_url
from watcher.core.notify import Letterhead
from watcher.core.record import Trial, parse_trial
from watcher.core.search import (
    BASELINE_FIELDS,
    NOTICE_FIELDS,
    SavedSearch,
    query_params,
    since_day,
)
from watcher.core.search_notice import MatchSection, match_section, matches_chat, matches_email
from watcher.core.wording import SiteLine, TrialSummary, trial_summary
from watcher.core.wording.words import date_words
from watcher.data import load_glossary
from watcher.delivery.templates import render
from watcher.errors import RegistryError
from watcher.service.wiring import letterhead
from watcher.store.database import Store
from watcher.store.searches import unknown_search

log = logging.getLogger(__name__)
META_ASKED = "searches_asked_at"  # when a check last gave the searches a data release
# What `search run` shows of each match (and, with a place, where its sites are).
PREVIEW_FIELDS = "NCTId,BriefTitle,OverallStatus"


class Searcher(Protocol):
    """What running a search needs of the registry client."""

    @property
    def request_count(self) -> int: ...
    def search(self, params: dict[str, str]) -> Iterator[list[dict[str, Any]]]: ...


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    """What one search did in a check: new matches found and people told, or why it failed."""

    name: str
    new: tuple[str, ...] = ()
    baseline: bool = False
    told: int = 0
    error: str | None = None


def run_searches(
    store: Store,
    registry: Searcher,
    settings: Settings,
    release: str | None,
    now: datetime,
) -> tuple[SearchOutcome, ...]:
    """Run every saved search not yet run against `release` (None, unknown: none runs)."""
    saved = store.searches()
    if release is None or not saved:
        return ()
    store.set_meta({META_ASKED: now.isoformat()})
    due = [s for s in saved if s.last_release != release]
    if not due:
        return ()
    glossary = load_glossary()
    head = letterhead(settings)
    outcomes = []
    for search in due:
        baseline = search.last_release is None and not search.notify_existing
        since = None if search.last_release is None else since_day(search.last_release)
        fields = BASELINE_FIELDS if baseline else NOTICE_FIELDS
        params = query_params(search, since=since, fields=fields)
        try:
            studies = [study for page in registry.search(params) for study in page]
        except RegistryError as exc:
            log.warning("search %s: %s", search.name, exc)
            outcomes.append(SearchOutcome(search.name, error=str(exc)))
            continue
        known = store.search_matches(search.id)
        found = {stamp_of(s).nct_id: s for s in studies}
        new = sorted(n for n in found if n is not None and n not in known)
        sections = [] if baseline else _sections(search, [found[n] for n in new], glossary, head)
        people = store.search_subscribers(search.id)
        messages = [
            matches_email(p, search, release, sections, letterhead=head, render=render, now=now)
            for p in (people if sections else [])
        ]
        chats = [  # the [[channels]] that name this search hear of its new matches too
            matches_chat(c.name, search, release, sections, render=render)
            for c in (settings.channels if sections else ())
            if search.name in c.searches
        ]
        with store.atomic():  # the watches, their subscriptions and the run, or none of them
            if search.watch_matches and new and not baseline:
                store.add_watches(new, now)
                for person in people:
                    store.subscribe(person.email, new, now)
            store.save_search_run(
                search, release, now, new=new, baseline=baseline, messages=[*messages, *chats]
            )
        outcomes.append(SearchOutcome(search.name, tuple(new), baseline, len(messages)))
    return tuple(outcomes)


def searches_due(store: Store, every: timedelta, now: datetime) -> bool:
    """Should the daemon run a cycle for the saved searches alone (no trial due)? When some
    search is saved and the release was last asked for them `every` ago or more: searches keep
    the trials' pace, and a daemon with no trial due does not ask `/version` every tick."""
    if not store.searches():
        return False
    asked = store.get_meta(META_ASKED)
    return asked is None or now - datetime.fromisoformat(asked) >= every


def _sections(
    search: SavedSearch,
    records: Sequence[dict[str, Any]],
    glossary: Glossary,
    head: Letterhead,
) -> list[MatchSection]:
    """Each new match as the notice shows it; one that cannot be read is left out (and
    logged), and is still recorded as matched."""
    sections = []
    for record in records:
        try:
            trial = parse_trial(clean_record(record))
            sections.append(match_section(trial, search, glossary=glossary, letterhead=head))
        except Exception as exc:  # one record's fault must not keep the others from the notice
            log.warning(
                "search %s: %s left out of the notice (%s)",
                search.name,
                stamp_of(record).nct_id,
                exc,
            )
    return sections


@dataclass(frozen=True, slots=True)
class PreviewRow:
    """One trial matching a search now: for `search run`, which stores nothing."""

    nct_id: str
    title: str
    status: str
    nearest: str | None  # "12 mi away", when the search has a place and a site a point
    known: bool  # already recorded as a match of this search

    def to_dict(self) -> dict[str, Any]:
        """As `search run --json` prints it."""
        return {
            "nct_id": self.nct_id,
            "title": self.title,
            "status": self.status,
            "nearest_site": self.nearest,
            "already_matched": self.known,
        }


def preview(store: Store, registry: Searcher, name: str) -> tuple[SavedSearch, list[PreviewRow]]:
    """What the saved search `name` matches now, asked of the registry; nothing is stored."""
    search = store.search(name)
    if search is None:
        raise unknown_search(name, [s.name for s in store.searches()], flag="NAME")
    fields = PREVIEW_FIELDS + (",ContactsLocationsModule" if search.near else "")
    known = store.search_matches(search.id)
    rows = []
    for page in registry.search(query_params(search, fields=fields)):
        for record in page:
            trial = parse_trial(clean_record(record))
            nct_id = trial.nct_id or "?"
            rows.append(
                PreviewRow(
                    nct_id,
                    trial.brief_title or trial.official_title or "",
                    trial.overall_status or "",
                    _nearest(search, trial),
                    nct_id in known,
                )
            )
    return search, rows


def _nearest(search: SavedSearch, trial: Trial) -> str | None:
    """How far the site nearest the search's place is ("12 mi away"), when it can be known."""
    if search.near is None:
        return None
    distances = [
        d for d in (search.near.distance_km(site) for site in trial.sites) if d is not None
    ]
    return distance_words(min(distances), search.near.within.unit) if distances else None


# The matches a search's web page lists, newest first.
MATCHES_SHOWN = 50


@dataclass(frozen=True, slots=True)
class ShownMatch:
    """One trial a search has matched, as its web page shows it. `summary` is the trial in
    plain English when a version is stored here (its key facts, its sites nearest the search's
    place); else only its NCT ID and a link to ClinicalTrials.gov."""

    nct_id: str
    found_at: str  # when the search found it (ISO)
    baseline: bool  # found by the search's first run
    watched: bool  # its page is on this site
    summary: TrialSummary | None

    @property
    def title(self) -> str:
        return self.summary.title if self.summary else ""

    @property
    def nearest(self) -> SiteLine | None:
        """The site nearest the search's place, when the search has one and a site is known."""
        if self.summary is None or self.summary.near is None or not self.summary.sites:
            return None
        return self.summary.sites[0]

    def how_far(self, search: SavedSearch) -> str:
        """How far the nearest site is from the search's place: "3 km away from Guangzhou,
        China" (the search's unit), else as the site line says it ("in Guangzhou")."""
        site = self.nearest
        if site is None or search.near is None:
            return ""
        if site.distance_km is None:
            return site.nearness
        return (
            f"{distance_words(site.distance_km, search.near.within.unit)} from {search.near.name}"
        )

    @property
    def url(self) -> str:
        return f"/trials/{self.nct_id}" if self.watched else registry_url(self.nct_id)

    @property
    def found(self) -> str:
        """The day the search found it, in words ("March 15, 2026")."""
        return date_words(self.found_at[:10])


Summarise = Callable[[SavedSearch, str, int], TrialSummary]


def match_summary(
    store: Store, glossary: Glossary, search: SavedSearch, nct_id: str, version: int
) -> TrialSummary:
    """A matched trial's stored version, for a patient at the search's place."""
    trial = parse_trial(clean_record(store.record(nct_id, version)))
    return trial_summary(trial, "patient", glossary, search.near)


def shown_matches(
    store: Store, search: SavedSearch, summarise: Summarise, limit: int = MATCHES_SHOWN
) -> list[ShownMatch]:
    """A search's stored matches, newest first, each with its summary when stored here
    (`summarise` words it: the web front keeps the words per stored version)."""
    shown = []
    for match in store.latest_matches(search.id, limit):
        row = store.trial(match.nct_id)
        version = row.current_version if row is not None else None
        summary = summarise(search, match.nct_id, version) if version is not None else None
        watched = row is not None and row.watched and version is not None
        shown.append(ShownMatch(match.nct_id, match.found_at, match.baseline, watched, summary))
    return shown


def search_json(saved: SavedSearch, subscribers: int) -> dict[str, object]:
    """A saved search as `search list --json` and `GET /api/v1/searches` give it: what it asks
    for and how many people follow it (never who)."""
    return {
        "name": saved.name,
        "condition": saved.condition,
        "term": saved.term,
        "sponsor": saved.sponsor,
        "statuses": list(saved.statuses),
        "phases": list(saved.phases),
        "near": str(saved.near) if saved.near else None,
        "watch_matches": saved.watch_matches,
        "notify_existing": saved.notify_existing,
        "include_updated": saved.updated_too,
        "last_release": saved.last_release,
        "subscribers": subscribers,
    }
