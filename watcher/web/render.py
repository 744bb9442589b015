"""`page()`: one template rendered into an HTML response, with what every page needs.

Every page gets the site name, the request (for the current path), `csrf_field` (the hidden
input of a form) and `lang="en"` through the layout `templates/web/_page.html.j2`. When the
browser had no CSRF cookie yet, the one the page's forms were signed with is set here.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from watcher.web.context import WebContext
from watcher.web.security import CSRF_COOKIE, csrf_field


def page(
    ctx: WebContext, request: Request, template: str, status: int = 200, **values: Any
) -> HTMLResponse:
    """Render `templates/<template>` (e.g. "web/trial.html.j2") as the answer to `request`."""
    html = ctx.templates.get_template(template).render(
        site_name=ctx.site_name,
        lang="en",
        request=request,
        csrf_field=lambda: csrf_field(request),
        **values,
    )
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
