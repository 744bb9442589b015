"""`/feeds/…`: the Atom and RSS files the checks write, and `/healthz` for the proxy.

The URLs mirror the feeds directory (`delivery/feed_files.py` names the files and builds the
links in emails): `/feeds/all.atom`, `/feeds/trials/NCT….rss`, `/feeds/private/TOKEN.atom`. Each
part is matched against a strict pattern before it becomes a path, so no request reaches outside
the directory. The private folder is never listed: a private feed is served only to whoever
knows its token path, and the access log writes that path as `/feeds/private/…`.

`/feeds/trials.opml` lists every watched trial's feed, for a feed reader to import at once; its
links point under `[web] base_url` (or, without one, a loopback address the request came to,
as the links in emails: `subscribe.site_url`).
"""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from watcher.core.ids import is_nct_id
from watcher.delivery.feed_files import private_feed_path, trial_feed_path
from watcher.service import exports
from watcher.web.context import WebContext
from watcher.web.files import file_response
from watcher.web.subscribe import site_url

MEDIA_TYPES = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
}
FEED_CACHE = "public, max-age=300"  # feeds change at most once a poll; readers revalidate
PRIVATE_CACHE = "private, no-cache"
OPML_TYPE = "text/x-opml; charset=utf-8"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")
NO_FEED = "There is no such feed here. Feeds are listed on each trial's page."


def routes(ctx: WebContext) -> list[BaseRoute]:
    """The feed and health routes."""
    feeds_dir = ctx.settings.feeds.dir

    def _kind(request: Request) -> str:
        kind = str(request.path_params["kind"])
        if kind not in MEDIA_TYPES:
            raise HTTPException(404, NO_FEED)
        return kind

    def everything(request: Request) -> Response:
        kind = _kind(request)
        return file_response(
            request, feeds_dir / f"all.{kind}", MEDIA_TYPES[kind], cache=FEED_CACHE, missing=NO_FEED
        )

    def trial(request: Request) -> Response:
        kind = _kind(request)
        nct_id = str(request.path_params["nct_id"])
        if not is_nct_id(nct_id):
            raise HTTPException(404, NO_FEED)
        path = trial_feed_path(ctx.settings, nct_id, kind)
        return file_response(request, path, MEDIA_TYPES[kind], cache=FEED_CACHE, missing=NO_FEED)

    def private(request: Request) -> Response:
        kind = _kind(request)
        token = str(request.path_params["token"])
        if not _TOKEN.fullmatch(token):
            raise HTTPException(404, NO_FEED)
        path = private_feed_path(ctx.settings, token, kind)
        return file_response(request, path, MEDIA_TYPES[kind], cache=PRIVATE_CACHE, missing=NO_FEED)

    def trials_opml(request: Request) -> Response:
        body = exports.trials_opml(ctx.store(), site_url(ctx, request), ctx.clock())
        return Response(body, media_type=OPML_TYPE, headers={"cache-control": FEED_CACHE})

    async def healthz(request: Request) -> Response:
        """200 "ok" when the database answers; the proxy's and systemd's liveness check."""
        ctx.store().trial("NCT00000000")
        return PlainTextResponse("ok\n", headers={"cache-control": "no-store"})

    return [
        Route("/feeds/trials.opml", trials_opml),
        Route("/feeds/all.{kind}", everything),
        Route("/feeds/trials/{nct_id}.{kind}", trial),
        Route("/feeds/private/{token}.{kind}", private),
        Route("/healthz", healthz),
    ]
