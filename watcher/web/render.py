"""`page()`: one template rendered into an HTML response, with what every page needs.

Every page gets the site name, the request (for the current path), `csrf_field` (the hidden
input of a form) and `lang="en"` through the layout `templates/web/_page.html.j2`. When the
browser had no CSRF cookie yet, the one the page's forms were signed with is set here.

`cached_page()` is for a page that is the same for every reader until its data changes (a
trial's page for one stored version): rendered once per `key` with a marker where each form's
CSRF input goes, then answered with that browser's input put in place. Such a page may differ
between readers only by `csrf_field()`: a template it includes must not read the request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from watcher.web.context import WebContext
from watcher.web.security import CSRF_COOKIE, csrf_field

_MARKER = "<!--trialwatch:csrf-field-->"
_MARKER_HTML = Markup(_MARKER)  # noqa: S704 - our own constant, not text from anyone
CACHED_PAGES = 256


def page(
    ctx: WebContext, request: Request, template: str, status: int = 200, **values: Any
) -> HTMLResponse:
    """Render `templates/<template>` (e.g. "web/trial.html.j2") as the answer to `request`."""
    html = _render(ctx, request, template, lambda: csrf_field(request), values)
    return _respond(request, html, status)


class PageCache:
    """Rendered pages by key, the least recently used dropped past `size` (thread-safe)."""

    def __init__(self, size: int = CACHED_PAGES) -> None:
        self.size = size
        self._pages: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> str | None:
        with self._lock:
            html = self._pages.get(key)
            if html is not None:
                self._pages.move_to_end(key)
            return html

    def put(self, key: Hashable, html: str) -> None:
        with self._lock:
            self._pages[key] = html
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)


def cached_page(
    ctx: WebContext,
    request: Request,
    cache: PageCache,
    key: Hashable,
    template: str,
    **values: Any,
) -> HTMLResponse:
    """`page()`, rendered once per `key` (see the module docstring)."""
    html = cache.get(key)
    if html is None:
        html = _render(ctx, request, template, lambda: _MARKER_HTML, values)
        cache.put(key, html)
    if _MARKER in html:
        html = html.replace(_MARKER, str(csrf_field(request)))
    return _respond(request, html, 200)


def _render(
    ctx: WebContext, request: Request, template: str, field: Any, values: dict[str, Any]
) -> str:
    return ctx.templates.get_template(template).render(
        site_name=ctx.site_name, lang="en", request=request, csrf_field=field, **values
    )


def _respond(request: Request, html: str, status: int) -> HTMLResponse:
    response = HTMLResponse(html, status_code=status)
    new_cookie = getattr(request.state, "new_csrf", None)
    if new_cookie:
        response.set_cookie(
            CSRF_COOKIE,
            new_cookie,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
    return response
