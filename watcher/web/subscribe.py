"""Subscribing, confirming, managing and leaving, by the subscriber alone.

- `POST /trials/NCT…/subscribe`: the form on a trial's page. A form with problems comes back
  with each problem on its field (400). Otherwise the request is stored and its one email
  queued (`service/confirmations.py`), and the answer is the same page, with the same status,
  whether the address is new, already follows the trial, or has had its emails for the day:
  the site never tells who is subscribed. Each client IP may send `[web] subscribe_per_hour`
  (`ClientLimit`; behind a proxy on this machine, uvicorn reads the client from
  X-Forwarded-For), then gets a 429 page.
- `/confirm/TOKEN`: GET shows one button and does nothing (mail scanners open links); the
  button POSTs, which subscribes once.
- `/unsubscribe/TOKEN`: GET shows one button; a POST whose body is `List-Unsubscribe=One-Click`
  (RFC 8058, sent by a mail provider, which has no cookie, hence no CSRF token) ends every
  subscription at once and answers 200; a POST from the page's button needs its CSRF token.
  `/unsubscribe/TOKEN/searches/ID`, the link of a saved search's emails, is the same for that
  search alone.
- `/manage/TOKEN`: what the subscriber follows (trials and saved searches), each with its
  options to change or end, and their private feed; the token is the unsubscribe token of
  their emails.

Links in the emails point under `[web] base_url`; without one (a site on this machine) they
point where the request came, but only when that is a loopback name: a Host header is the
sender's to write, and a confirmation link must not be sent to a host the sender picked.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from watcher.config.values import LOOPBACK_HOSTS
from watcher.core.search import SavedSearch
from watcher.core.wording.confirmation import CONFIRM_HOURS, SENT_LINES
from watcher.core.wording.subscription import FEED_LINE
from watcher.service.confirmations import (
    FormProblems,
    check_form,
    confirm,
    look_up,
    request_subscription,
    search_of,
)
from watcher.service.manage import account, change, end_search
from watcher.web.context import WebContext
from watcher.web.render import page
from watcher.web.security import require_csrf

HOUR_S = 3600.0
LOOPBACK = LOOPBACK_HOSTS | {"[::1]"}  # as a Host header writes IPv6
ONE_CLICK = "One-Click"  # RFC 8058: the body is List-Unsubscribe=One-Click


class ClientLimit:
    """At most `limit` requests per client in any `window_s` seconds (a sliding window kept in
    this process: a restart forgets it; the per-address limit, in the database, does not)."""

    def __init__(self, limit: int, window_s: float = HOUR_S) -> None:
        self.limit = limit
        self.window_s = window_s
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str, now: float) -> bool:
        """Count this request; False when the client has had its `limit` in the window."""
        with self._lock:
            for key in [k for k, times in self._seen.items() if times[-1] <= now - self.window_s]:
                del self._seen[key]  # forget clients gone quiet, so the table stays small
            times = self._seen.setdefault(client, deque())
            while times and times[0] <= now - self.window_s:
                times.popleft()
            if len(times) >= self.limit:
                return False
            times.append(now)
            return True


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def one_click_or_csrf(request: Request) -> bool:
    """Whether an unsubscribe POST is RFC 8058's one-click (a mail provider's, which carries no
    cookie and needs none: the token in the path is the proof); any other POST must carry the
    form's CSRF token."""
    one_click = field(await request.form(), "List-Unsubscribe") == ONE_CLICK
    if not one_click:
        await require_csrf(request)
    return one_click


def site_url(ctx: WebContext, request: Request) -> str:
    """Where the links in an email point (see the module docstring)."""
    if ctx.settings.web.base_url:
        return ctx.settings.web.base_url
    if request.url.hostname in LOOPBACK:
        return str(request.base_url).rstrip("/")
    raise HTTPException(
        503,
        "This site cannot send links yet: the person who runs it needs to set [web] base_url.",
    )


def routes(ctx: WebContext, limit: ClientLimit) -> list[BaseRoute]:
    """The subscriber's routes (see the module docstring); `limit` counts each client's
    requests, with those of the search pages' form (`web/searches.py`)."""

    async def subscribe(request: Request) -> Response:
        form = await require_csrf(request)
        nct_id = str(request.path_params["nct_id"]).upper()
        client = request.client.host if request.client else "unknown"
        if not limit.allow(client, time.monotonic()):
            raise HTTPException(
                429, "Too many requests came from your connection. Please try again in an hour."
            )
        values = {name: field(form, name) for name in ("address", "delivery", "near", "within")}
        values["delivery"] = values["delivery"] or "immediate"
        links = site_url(ctx, request)

        def store_it() -> FormProblems | None:
            store = ctx.store()  # in the worker thread: each thread has its own connection
            try:
                checked = check_form(
                    store,
                    values["address"],
                    [nct_id],
                    delivery=values["delivery"],
                    near=values["near"],
                    within=values["within"],
                )
            except FormProblems as problems:
                return problems
            request_subscription(store, ctx.settings, checked, ctx.clock(), site_url=links)
            return None

        problems = await run_in_threadpool(store_it)
        if problems is not None:
            title = await run_in_threadpool(_title, ctx, nct_id)
            return page(
                ctx,
                request,
                "web/subscribe_problems.html.j2",
                status=400,
                nct_id=nct_id,
                title=title,
                form=values,
                problems=problems.problems,
            )
        return page(
            ctx,
            request,
            "web/subscribe_sent.html.j2",
            lines=SENT_LINES,
            back=(f"/trials/{nct_id}", f"Back to {nct_id}"),
        )

    def confirm_page(request: Request) -> Response:
        store = ctx.store()
        refused, pending = look_up(store, str(request.path_params["token"]), ctx.clock())
        if refused is not None or pending is None:
            return _confirm_page(ctx, request, refused or "unknown")
        search = search_of(store, pending)
        if search is None and not pending.nct_ids:  # its search was removed since
            return _confirm_page(ctx, request, "gone")
        titles = [(n, _title(ctx, n)) for n in pending.nct_ids]
        return _confirm_page(ctx, request, "ask", trials=titles, search=search)

    async def confirm_it(request: Request) -> Response:
        await require_csrf(request)
        token = str(request.path_params["token"])
        done = await run_in_threadpool(
            lambda: confirm(ctx.store(), ctx.settings, token, ctx.clock())
        )
        manage = f"/manage/{quote(done.manage_token, safe='')}" if done.manage_token else None
        return _confirm_page(ctx, request, done.outcome, manage=manage)

    def unsubscribe_page(request: Request) -> Response:
        person = ctx.store().subscriber(token=str(request.path_params["token"]))
        return page(
            ctx,
            request,
            "web/unsubscribe.html.j2",
            status=200 if person else 404,
            state="ask" if person else "unknown",
        )

    async def unsubscribe_it(request: Request) -> Response:
        one_click = await one_click_or_csrf(request)
        token = str(request.path_params["token"])

        def end_all() -> int:
            store = ctx.store()
            person = store.subscriber(token=token)
            return store.unsubscribe(person) if person is not None else 0

        ended = await run_in_threadpool(end_all)
        if one_click:  # a mail provider: it reads the status, not a page
            return PlainTextResponse("Unsubscribed.\n")
        return page(ctx, request, "web/unsubscribe.html.j2", state="done" if ended else "unknown")

    def unsubscribe_search_page(request: Request) -> Response:
        store = ctx.store()
        person = store.subscriber(token=str(request.path_params["token"]))
        search = store.search_by_id(int(request.path_params["search_id"]))
        follows = (
            person is not None
            and search is not None
            and any(s.id == search.id for s in store.searches_of(person.id))
        )
        return page(
            ctx,
            request,
            "web/unsubscribe.html.j2",
            status=200 if follows else 404,
            state="ask" if follows else "unknown",
            search=search,
        )

    async def unsubscribe_search_it(request: Request) -> Response:
        """RFC 8058 as for everything, but this link (a search's emails) ends that search only."""
        one_click = await one_click_or_csrf(request)
        token = str(request.path_params["token"])
        search_id = int(request.path_params["search_id"])

        def end_it() -> tuple[bool, SavedSearch | None]:
            store = ctx.store()
            person = store.subscriber(token=token)
            ended = person is not None and store.unsubscribe_search(person, search_id)
            return ended, store.search_by_id(search_id)

        ended, search = await run_in_threadpool(end_it)
        if one_click:
            return PlainTextResponse("Unsubscribed.\n")
        return page(
            ctx,
            request,
            "web/unsubscribe.html.j2",
            state="done" if ended else "unknown",
            search=search,
        )

    def manage_page(request: Request) -> Response:
        return _manage_page(ctx, request, str(request.path_params["token"]))

    def manage_action(
        act: Callable[[Request, FormData, str], Response | None],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            form = await require_csrf(request)
            token = str(request.path_params["token"])
            done = await run_in_threadpool(act, request, form, token)
            if done is not None:
                return done
            saved = quote(field(form, "nct_id"))
            return RedirectResponse(f"/manage/{quote(token, safe='')}?saved={saved}", 303)

        return handle

    def change_one(request: Request, form: FormData, token: str) -> Response | None:
        store = ctx.store()
        person = store.subscriber(token=token)
        if person is None:
            return _manage_page(ctx, request, token)
        try:
            change(
                store,
                person,
                field(form, "nct_id"),
                ctx.clock(),
                delivery=field(form, "delivery"),
                near=field(form, "near"),
                within=field(form, "within"),
            )
        except FormProblems as problems:
            return _manage_page(ctx, request, token, problems=problems.problems, form=form)
        return None

    def end_a_search(request: Request, form: FormData, token: str) -> Response | None:
        store = ctx.store()
        person = store.subscriber(token=token)
        name = field(form, "search")
        ended = person is not None and end_search(store, person, name)
        if store.subscriber(token=token) is None:  # that was the last: they are forgotten
            return page(ctx, request, "web/unsubscribe.html.j2", state="done")
        said = f"?ended={quote(name, safe='')}" if ended else ""
        return RedirectResponse(f"/manage/{quote(token, safe='')}{said}", 303)

    def end_one(request: Request, form: FormData, token: str) -> Response | None:
        store = ctx.store()
        person = store.subscriber(token=token)
        if person is not None:
            store.unsubscribe(person, [field(form, "nct_id")])
        if store.subscriber(token=token) is None:  # that was the last: they are forgotten
            return page(ctx, request, "web/unsubscribe.html.j2", state="done")
        return None

    return [
        Route("/trials/{nct_id}/subscribe", subscribe, methods=["POST"]),
        Route("/confirm/{token}", confirm_page, methods=["GET"]),
        Route("/confirm/{token}", confirm_it, methods=["POST"]),
        Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET"]),
        Route("/unsubscribe/{token}", unsubscribe_it, methods=["POST"]),
        Route(
            "/unsubscribe/{token}/searches/{search_id:int}",
            unsubscribe_search_page,
            methods=["GET"],
        ),
        Route(
            "/unsubscribe/{token}/searches/{search_id:int}",
            unsubscribe_search_it,
            methods=["POST"],
        ),
        Route("/manage/{token}", manage_page, methods=["GET"]),
        Route("/manage/{token}/change", manage_action(change_one), methods=["POST"]),
        Route("/manage/{token}/end", manage_action(end_one), methods=["POST"]),
        Route("/manage/{token}/end-search", manage_action(end_a_search), methods=["POST"]),
    ]


_CONFIRM_STATUS = {"unknown": 404, "expired": 410, "gone": 410}


def _confirm_page(
    ctx: WebContext,
    request: Request,
    state: str,
    trials: list[tuple[str, str]] | None = None,
    manage: str | None = None,
    search: SavedSearch | None = None,
) -> Response:
    return page(
        ctx,
        request,
        "web/confirm.html.j2",
        status=_CONFIRM_STATUS.get(state, 200),
        state=state,
        trials=trials or [],
        manage=manage,
        hours=CONFIRM_HOURS,
        search=search,
    )


def _manage_page(
    ctx: WebContext,
    request: Request,
    token: str,
    problems: dict[str, str] | None = None,
    form: FormData | None = None,
) -> Response:
    found = account(ctx.store(), token)
    if found is None:
        return page(ctx, request, "web/unsubscribe.html.j2", status=404, state="unknown")
    feed = f"/feeds/private/{quote(found.subscriber.feed_token, safe='')}"
    return page(
        ctx,
        request,
        "web/manage.html.j2",
        status=400 if problems else 200,
        account=found,
        token=quote(token, safe=""),
        feed=feed,
        feed_line=FEED_LINE,
        saved=request.query_params.get("saved", ""),
        ended=request.query_params.get("ended", ""),
        problems=problems or {},
        failed=field(form, "nct_id") if form is not None else "",
    )


def _title(ctx: WebContext, nct_id: str) -> str:
    row = ctx.store().trial(nct_id)
    return (row.brief_title if row else None) or nct_id
