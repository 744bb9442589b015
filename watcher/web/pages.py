"""The reader's pages: `/` (find a trial) and `/trials/NCT…` (the trial in plain English).

Skeleton: the routes and the 404 in plain words; the pages fill in on top of it.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from watcher.core.ids import is_nct_id
from watcher.delivery.templates import template_dirs
from watcher.web.context import WebContext
from watcher.web.files import file_response
from watcher.web.render import page

NOT_WATCHED = (
    "This site does not follow a trial with that number. Check the number (NCT and 8 digits, "
    "e.g. NCT07310784), or search for words from its title on the first page."
)


def routes(ctx: WebContext) -> list[BaseRoute]:
    """The reader's pages and the stylesheet."""
    stylesheet = next(d / "web" / "site.css" for d in template_dirs() if (d / "web").is_dir())

    def home(request: Request) -> Response:
        return page(ctx, request, "web/home.html.j2")

    def trial(request: Request) -> Response:
        nct_id = str(request.path_params["nct_id"]).upper()
        row = ctx.store().trial(nct_id) if is_nct_id(nct_id) else None
        if row is None or not row.watched:
            raise HTTPException(404, NOT_WATCHED)
        return page(
            ctx, request, "web/trial.html.j2", nct_id=nct_id, title=row.brief_title or nct_id
        )

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
