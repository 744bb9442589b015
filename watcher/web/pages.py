"""The reader's pages: `/` (find a trial) and `/trials/NCT…` (the trial in plain English).

Every word on them comes from `core/wording/`, as in the emails and `trialwatch summary`: the
trial summary (key facts, what is tested, who can join with each item's units, the glossary,
the sites), the timeline's sentences, and for the history the sentence stored with each change
when it was found, with its exact old → new lines one click away in a `<details>` (no
JavaScript). `?view=exact` is the coordinators' page: official values, every site, the exact
lines shown open.

Building a trial's page reads and decodes every stored version (the timeline) and rewrites its
criteria with the glossary: about two seconds for a trial with 50 versions and 300 sites. What
a version's page shows only changes with a new version, so it is built once per (trial,
current version, audience) in a worker thread and kept in a small cache (`views`); a request
then costs one indexed read and the template. The sites nearest a place the reader typed are
worked out per request from the cached trial. The page itself, without a place, is rendered
once per version too (`render.cached_page`): each reader gets it with their own CSRF input.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from watcher.core.gazetteer import resolve_near
from watcher.core.ids import is_nct_id, registry_url
from watcher.core.record import Trial
from watcher.core.wording import TrialSummary, change_sentence, trial_summary
from watcher.core.wording.exact import HEADINGS, exact_lines
from watcher.core.wording.timeline import (
    build_timeline,
    coordinator_sentences,
    patient_sentences,
)
from watcher.core.wording.words import count_words, date_words
from watcher.data import load_glossary
from watcher.data.gazetteer import load_gazetteer
from watcher.delivery.templates import template_dirs
from watcher.errors import InputError, RegistryError
from watcher.service.reader_trials import watch_asked_trial
from watcher.service.versions import stored_versions
from watcher.web.context import WebContext
from watcher.web.files import file_response
from watcher.web.limits import Limiter
from watcher.web.render import PageCache, cached_page, page

NOT_WATCHED = (
    "This site does not follow a trial with that number. Check the number (NCT and 8 digits, "
    "e.g. NCT07310784), or search for words from its title on the first page."
)
NOT_CHECKED = (
    "This site follows that trial but has not read it from ClinicalTrials.gov yet. "
    "Come back after the next check (within the hour)."
)
RESULTS_SHOWN = 50
LISTED_ON_HOME = 50
CACHED_VIEWS = 256


@dataclass(frozen=True, slots=True)
class HistoryChange:
    """One stored change: its plain sentence, and its exact old → new lines under a heading."""

    sentence: str
    heading: str
    exact: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One new version's changes, dated by the registry's update (else when it was found)."""

    version: int
    date: str
    changes: tuple[HistoryChange, ...]


@dataclass(frozen=True, slots=True)
class TrialView:
    """What a trial's page shows for one version and audience (cached)."""

    trial: Trial
    summary: TrialSummary
    story: tuple[str, ...]
    history: tuple[HistoryEntry, ...]
    first_seen: str  # the date of the oldest stored version, in words


def _history(ctx: WebContext, nct_id: str) -> tuple[HistoryEntry, ...]:
    store = ctx.store()
    dated = {row.version: row for row in store.versions(nct_id)}
    entries: dict[int, list[HistoryChange]] = {}
    found: dict[int, str] = {}
    for stored in store.changes(nct_id):
        lines = tuple(line.text for line in exact_lines(stored.change))
        sentence = stored.sentence or change_sentence(stored.change)
        heading = HEADINGS.get(stored.change.kind, stored.change.kind)
        entries.setdefault(stored.to_version, []).append(HistoryChange(sentence, heading, lines))
        found.setdefault(stored.to_version, stored.detected_at[:10])
    out = []
    for version in sorted(entries, reverse=True):
        row = dated.get(version)
        posted = row.last_update_posted if row else None
        out.append(
            HistoryEntry(version, date_words(posted or found[version]), tuple(entries[version]))
        )
    return tuple(out)


def routes(ctx: WebContext) -> list[BaseRoute]:
    """The reader's pages and the stylesheet."""
    stylesheet = next(d / "web" / "site.css" for d in template_dirs() if (d / "web").is_dir())
    glossary = load_glossary()
    # Fetching a trial nobody watches costs registry requests: a few per reader, a few more in all.
    per_client = Limiter(3, timedelta(hours=1))
    everyone = Limiter(20, timedelta(hours=1))

    views: OrderedDict[tuple[str, int, str], TrialView] = OrderedDict()
    pages = PageCache()

    def _view(nct_id: str, version: int, audience: str) -> TrialView:
        versions = stored_versions(ctx.store(), nct_id)
        trial = next(v.trial for v in versions if v.number == version)
        story = build_timeline(versions)
        says: Callable[..., list[str]] = (
            patient_sentences if audience == "patient" else coordinator_sentences
        )
        return TrialView(
            trial=trial,
            summary=trial_summary(trial, audience, glossary),
            story=tuple(says(story)),
            history=_history(ctx, nct_id),
            first_seen=date_words(story.first),
        )

    def home(request: Request) -> Response:
        query = request.query_params.get("q", "").strip()[:200]
        if not query:
            watched = ctx.store().trials()
            return page(
                ctx,
                request,
                "web/home.html.j2",
                query="",
                results=watched[:LISTED_ON_HOME],
                more=max(0, len(watched) - LISTED_ON_HOME),
                message=None,
                link=None,
                listing=True,
                has_searches=bool(ctx.store().searches()),
            )
        nct_id = _nct_id_in(query)
        if nct_id is not None:
            return _find_by_number(request, nct_id, query)
        if query.upper().startswith("NCT") and len(query.split()) == 1:
            wrong = f"An NCT number is NCT and 8 digits, e.g. NCT07310784; “{query}” is not one."
            return _home_message(request, query, wrong, None)
        words = query.casefold().split()
        found = [
            row
            for row in ctx.store().trials()
            if all(word in f"{row.brief_title or ''} {row.nct_id}".casefold() for word in words)
        ]
        message: str | None = (
            None
            if found
            else (
                f"No trial this site follows has all of these words in its title: {query}. "
                "Try fewer words, or the trial's NCT number."
            )
        )
        return page(
            ctx,
            request,
            "web/home.html.j2",
            query=query,
            results=found[:RESULTS_SHOWN],
            more=max(0, len(found) - RESULTS_SHOWN),
            message=message,
            link=None,
            listing=False,
        )

    def _find_by_number(request: Request, nct_id: str, query: str) -> Response:
        row = ctx.store().trial(nct_id)
        if row is not None and row.watched:
            return RedirectResponse(f"/trials/{nct_id}", status_code=303)
        settings = ctx.settings.web
        if not settings.allow_new_trials:
            message = f"This site does not follow {nct_id}. You can read it on ClinicalTrials.gov: "
            return _home_message(request, query, message, registry_url(nct_id))
        now = ctx.clock()
        client = request.client.host if request.client else "unknown"
        if not (per_client.allow(client, now) and everyone.allow("all", now)):
            message = (
                "This site has looked up many new trials in the last hour. Please try again "
                f"later, or read {nct_id} on ClinicalTrials.gov: "
            )
            return _home_message(request, query, message, registry_url(nct_id), status=429)
        try:
            watch_asked_trial(ctx.store(), ctx.settings, nct_id, now)
        except InputError as exc:
            return _home_message(request, query, f"{exc} ", None)
        except RegistryError:
            message = (
                "ClinicalTrials.gov did not answer just now, so this site could not add "
                f"{nct_id}. Please try again in a few minutes, or read it there: "
            )
            return _home_message(request, query, message, registry_url(nct_id), status=503)
        return RedirectResponse(f"/trials/{nct_id}", status_code=303)

    def _home_message(
        request: Request, query: str, message: str, link: str | None, status: int = 200
    ) -> Response:
        return page(
            ctx,
            request,
            "web/home.html.j2",
            status=status,
            query=query,
            results=[],
            more=0,
            message=message,
            link=link,
            listing=False,
        )

    async def trial(request: Request) -> Response:
        """The trial's page. It runs on the event loop: a page from the cache costs one indexed
        read and a template; building a view (a new version) and placing the reader go to a
        worker thread, so a long trial's first page does not hold up everybody else's."""
        typed = str(request.path_params["nct_id"])
        nct_id = typed.strip().upper()
        if not is_nct_id(nct_id):
            raise HTTPException(404, NOT_WATCHED)
        exact = request.query_params.get("view") == "exact"
        if nct_id != typed:
            return RedirectResponse(f"/trials/{nct_id}{'?view=exact' if exact else ''}", 301)
        row = ctx.store().trial(nct_id)
        if row is None or not row.watched:
            raise HTTPException(404, NOT_WATCHED)
        if row.current_version is None:
            raise HTTPException(404, NOT_CHECKED)
        audience = "coordinator" if exact else "patient"
        key = (nct_id, row.current_version, audience)
        view = views.get(key)
        if view is None:
            view = views[key] = await run_in_threadpool(_view, *key)
            while len(views) > CACHED_VIEWS:
                views.popitem(last=False)
        summary, near_text, near_problem = view.summary, "", None
        typed_near = request.query_params.get("near", "").strip()[:200]
        if typed_near and not exact:
            near_text = typed_near
            try:
                summary = await run_in_threadpool(_nearest, view.trial, typed_near)
            except InputError as exc:
                near_problem = _place_problem(typed_near, str(exc))
        values: dict[str, Any] = dict(
            nct_id=nct_id,
            view=view,
            trial=summary,
            exact=exact,
            near_text=near_text,
            near_problem=near_problem,
            site_count=count_words(len(summary.sites) + summary.sites_not_shown, "site", "sites"),
            registry=registry_url(nct_id),
        )
        if typed_near:  # a page for this reader's place
            return page(ctx, request, "web/trial.html.j2", **values)
        return cached_page(ctx, request, pages, key, "web/trial.html.j2", **values)

    def _nearest(trial: Trial, place: str) -> TrialSummary:
        near = resolve_near(place, None, load_gazetteer)  # the gazetteer loads once, slowly
        return trial_summary(trial, "patient", glossary, near)

    def css(request: Request) -> Response:
        return file_response(
            request,
            stylesheet,
            "text/css; charset=utf-8",
            cache="public, max-age=3600",
            missing="No stylesheet.",
        )

    return [
        Route("/", home),
        Route("/trials/{nct_id}", trial),
        Route("/static/site.css", css),
    ]


def _nct_id_in(query: str) -> str | None:
    """The NCT ID a reader typed ("nct07310784", "NCT 07310784"), or None for title words."""
    squeezed = "".join(query.split()).upper()
    return squeezed if is_nct_id(squeezed) else None


def _place_problem(typed: str, why: str) -> str:
    """The gazetteer's refusal, told to a reader of a web page rather than a command line."""
    reason = why.split(": ", 1)[1] if why.startswith("--near") and ": " in why else why
    return (
        f"This site does not know the place “{typed}” ({reason}). "
        "The sites are listed below without distances."
    )
