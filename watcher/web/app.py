"""`create_app`: the Starlette application, gathered from the route modules.

Why Starlette and not FastAPI: these are server-rendered pages and a few forms; FastAPI's gift is
an OpenAPI schema and model validation for JSON APIs. The coordinators' API (`api.py`, under
/api/v1) is Starlette too, with a hand-written OpenAPI document: its docstring says why.

Each route module exposes `routes(ctx) -> list[BaseRoute]`. Errors are pages in plain words
(`templates/web/error.html.j2`), never a traceback: a 404 for an unknown trial, a 403 for a form
whose CSRF token does not match, a 413 for a body over the limit.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from watcher.web import api, feeds, pages, searches, subscribe
from watcher.web.context import WebContext
from watcher.web.logs import AccessLog
from watcher.web.render import page
from watcher.web.security import SecurityHeaders

TITLES = {
    403: "This form could not be sent",
    404: "Page not found",
    405: "That cannot be done here",
    413: "That was too much",
    429: "Please wait a little",
    503: "Not ready yet",
}


def create_app(ctx: WebContext) -> Starlette:
    """The whole web front for one deployment."""

    async def error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return page(
            ctx,
            request,
            "web/error.html.j2",
            status=exc.status_code,
            title=TITLES.get(exc.status_code, "Something went wrong"),
            message=exc.detail,
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        ctx.close()

    limit = subscribe.ClientLimit(ctx.settings.web.subscribe_per_hour)  # both forms count
    app = Starlette(
        routes=[
            *pages.routes(ctx),
            *feeds.routes(ctx),
            *subscribe.routes(ctx, limit),
            *searches.routes(ctx, limit),
            *api.routes(ctx),
        ],
        middleware=[Middleware(AccessLog), Middleware(SecurityHeaders)],
        exception_handlers={HTTPException: error},
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    return app
