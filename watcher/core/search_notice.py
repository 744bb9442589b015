"""The email a saved search's subscriber gets when a data release brings new matches (pure).

One email per subscriber per run, grouping every new match of that run (a release that adds
three trials is one message, not three). Each trial is said as everywhere else: its plain-English
key facts and what the study tests (`trial_summary`), its sites nearest the search's place with
their distance (`nearest_sites`), and one link to the whole trial; the footer carries the
unsubscribe link, which ends this search only. The key names the search, the release and the
person, so a run repeated after a crash queues nothing twice. A new subscriber's first email is
`search_welcome_email`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from watcher.core.glossary import Glossary
from watcher.core.message import Outgoing
from watcher.core.notify import (
    Letterhead,
    Link,
    Renderer,
    _email,
    chat_message,
    footer,
    nearest_sites,
    trial_page,
)
from watcher.core.record import Trial
from watcher.core.search import SavedSearch
from watcher.core.subscriptions import Subscriber
from watcher.core.wording import SiteLine, TrialSummary, trial_summary
from watcher.core.wording.search import (
    matches_headline,
    matches_intro,
    matches_reason,
    search_leave_line,
    search_plan,
    search_welcome_headline,
    search_welcome_intro,
)
from watcher.core.wording.trial_facts import Fact

# The facts of `trial_summary` a match notice shows: what the study tests, and beside what.
_TESTS = frozenset({"What the study tests", "Compared with"})


@dataclass(frozen=True, slots=True)
class MatchSection:
    """One new match as the notice shows it."""

    trial: TrialSummary
    tests: tuple[Fact, ...]
    sites: tuple[SiteLine, ...]
    more_sites: int
    page: Link


def match_section(
    trial: Trial, search: SavedSearch, *, glossary: Glossary, letterhead: Letterhead
) -> MatchSection:
    """A new match for a patient: key facts, what it tests, the sites nearest the search's place."""
    about = trial_summary(trial, "patient", glossary, search.near)
    sites, more = nearest_sites(about)
    tests = tuple(fact for fact in about.facts if fact.label in _TESTS)
    return MatchSection(about, tests, sites, more, trial_page(about.nct_id, "patient", letterhead))


def matches_email(
    person: Subscriber,
    search: SavedSearch,
    release: str,
    sections: Sequence[MatchSection],
    *,
    letterhead: Letterhead,
    render: Renderer,
    now: datetime,
) -> Outgoing:
    """One subscriber's email about this run's new matches (`sections`, at least one)."""
    subject = matches_headline(search.name, [(s.trial.nct_id, s.trial.title) for s in sections])
    context = {
        "headline": subject,
        "intro": matches_intro(len(sections), search.describe()),
        "matches": sections,
        "reason": matches_reason(search.name),
        **footer(person, letterhead, search_id=search.id),
    }
    key = f"search/{search.id}/{release}/p{person.id}"
    return _email(
        person,
        subject,
        "search_matches",
        context,
        key=key,
        letterhead=letterhead,
        render=render,
        now=now,
        search_id=search.id,
    )


def search_page(name: str, letterhead: Letterhead) -> Link | None:
    """The search's page on the web front (`/searches/NAME`), when the site has one."""
    if not letterhead.web_base_url:
        return None
    url = f"{letterhead.web_base_url}/searches/{quote(name, safe='')}"
    return Link(url, "See the trials it matches now")


def search_welcome_email(
    person: Subscriber,
    search: SavedSearch,
    *,
    letterhead: Letterhead,
    render: Renderer,
    now: datetime,
) -> Outgoing:
    """The first email of a search subscription: what they will get, what the search asks
    for, and how to leave it (its own link, as in its notices). The key names the search, the
    moment and the person, so a search followed again later is welcomed again."""
    subject = search_welcome_headline(search.name)
    context = {
        "headline": subject,
        "intro": search_welcome_intro(search.name),
        "plan": search_plan(search.describe()),
        "page": search_page(search.name, letterhead),
        "leave": search_leave_line(),
        "reason": matches_reason(search.name),
        **footer(person, letterhead, search_id=search.id),
    }
    key = f"welcome/search/{search.id}/{now.strftime('%Y%m%dT%H%M%S%f')}/p{person.id}"
    return _email(
        person,
        subject,
        "search_welcome",
        context,
        key=key,
        letterhead=letterhead,
        render=render,
        now=now,
        search_id=search.id,
    )


def matches_chat(
    channel: str,
    search: SavedSearch,
    release: str,
    sections: Sequence[MatchSection],
    *,
    render: Renderer,
) -> Outgoing:
    """A chat channel's message about this run's new matches (a `[[channels]]` entry naming
    the search): the email's words and layout without its footer, its subject as the title."""
    title = matches_headline(search.name, [(s.trial.nct_id, s.trial.title) for s in sections])
    text = render(
        "search_matches.txt.j2",
        intro=matches_intro(len(sections), search.describe()),
        matches=sections,
    )
    return chat_message(f"search/{search.id}/{release}", channel, title, text)
