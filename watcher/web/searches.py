"""Saved searches on the web: `/searches` (the list) and `/searches/NAME` (one search), and
subscribing to a search's new trials from its page.

A search's page says what it looks for in plain words (`SavedSearch.terms`), the trials it has
matched, newest first (`service/searches.shown_matches`: the key facts and the site nearest the
search's place when the trial is stored here, else a link to ClinicalTrials.gov), and a form
with the address alone: a search's notices come once per registry update, so there is no "how
often" and no place to choose. The form takes the same road as a trial's
(`service/confirmations.request_search`): double opt-in, the same page for every address, the
per-address limit and this site's per-client limit (`ClientLimit`, shared with the trial form).

Wording a stored trial rewrites its criteria with the glossary; the words are kept per (search,
trial, stored version), so a page costs its reads and its template.
"""

from __future__ import annotations

import time
from functools import lru_cache
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from watcher.core.search import SavedSearch
from watcher.core.wording import TrialSummary
from watcher.core.wording.confirmation import SENT_LINES
from watcher.data import load_glossary
from watcher.service.confirmations import FormProblems, check_search_form, request_search
from watcher.service.searches import MATCHES_SHOWN, match_summary, shown_matches
from watcher.web.context import WebContext
from watcher.web.render import page
from watcher.web.security import require_csrf
from watcher.web.subscribe import ClientLimit, field, site_url

CACHED_SUMMARIES = 512


def routes(ctx: WebContext, limit: ClientLimit) -> list[BaseRoute]:
    """The search pages and their subscribe form (see the module docstring)."""
    glossary = load_glossary()

    @lru_cache(maxsize=CACHED_SUMMARIES)
    def summarise(search: SavedSearch, nct_id: str, version: int) -> TrialSummary:
        return match_summary(ctx.store(), glossary, search, nct_id, version)

    def listing(request: Request) -> Response:
        return page(ctx, request, "web/searches.html.j2", searches=ctx.store().searches())

    def found(request: Request) -> SavedSearch:
        name = str(request.path_params["name"])
        search = ctx.store().search(name)
        if search is None:
            raise HTTPException(
                404,
                "This site has no saved search of that name. The list of its searches is at "
                "/searches.",
            )
        return search

    def search_page(
        request: Request,
        search: SavedSearch,
        *,
        status: int = 200,
        address: str = "",
        problems: dict[str, str] | None = None,
    ) -> Response:
        store = ctx.store()
        matches = shown_matches(store, search, summarise)
        total = len(store.search_matches(search.id))
        return page(
            ctx,
            request,
            "web/search.html.j2",
            status=status,
            search=search,
            matches=matches,
            more=max(0, total - MATCHES_SHOWN),
            total=total,
            address=address,
            problems=problems or {},
        )

    async def one(request: Request) -> Response:
        search = await run_in_threadpool(found, request)
        return await run_in_threadpool(search_page, request, search)

    async def subscribe(request: Request) -> Response:
        form = await require_csrf(request)
        search = await run_in_threadpool(found, request)
        client = request.client.host if request.client else "unknown"
        if not limit.allow(client, time.monotonic()):
            raise HTTPException(
                429, "Too many requests came from your connection. Please try again in an hour."
            )
        address = field(form, "address")
        links = site_url(ctx, request)

        def store_it() -> FormProblems | None:
            try:
                checked = check_search_form(address)
            except FormProblems as problems:
                return problems
            request_search(ctx.store(), ctx.settings, checked, search, ctx.clock(), site_url=links)
            return None

        problems = await run_in_threadpool(store_it)
        if problems is not None:
            return await run_in_threadpool(
                lambda: search_page(
                    request, search, status=400, address=address, problems=problems.problems
                )
            )
        return page(
            ctx,
            request,
            "web/subscribe_sent.html.j2",
            lines=SENT_LINES,
            back=(
                f"/searches/{quote(search.name, safe='')}",
                f"Back to the search “{search.name}”",
            ),
        )

    return [
        Route("/searches", listing, methods=["GET"]),
        Route("/searches/{name}", one, methods=["GET"]),
        Route("/searches/{name}/subscribe", subscribe, methods=["POST"]),
    ]
