"""Headers on every response, a request size limit, and CSRF tokens for every form.

Headers: pages use no inline script or style (the CSP says so), send no Referer (tokens are in
paths: `/confirm/TOKEN` must not leak to a linked site), and may not be framed.

The API (`/api/v1`) sets and reads no cookie and takes no form: a script sends its key as a
bearer header, which a browser never adds on its own, so no CSRF token is asked of it; these
headers apply to it as to every page.

CSRF: a token bound to a random cookie. The first page a browser gets sets `tw_csrf`, a random
value (HttpOnly, SameSite=Strict); each form carries HMAC-SHA256(server key, that value). A
POST is accepted when the field matches the HMAC of the cookie it arrived with, compared in
constant time. Why this and not a plain double-submit (field equal to cookie): a neighbouring
subdomain can plant a cookie, but it cannot compute the HMAC without the key, which never leaves
the process. Why not a server-side token table: nothing to store or expire, and a page stays
cacheable per browser. The standard library's `hmac` is enough; itsdangerous (no longer a
Starlette dependency) would add a package for the same three lines.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from markupsafe import Markup, escape
from starlette.datastructures import FormData, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from watcher.web.problems import API_PREFIX, MEDIA_TYPE, problem_body

CSRF_COOKIE = "tw_csrf"
CSRF_FIELD = "csrf"
MAX_BODY_BYTES = 64 * 1024  # a subscribe form is under 1 KiB; nothing here uploads files

HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'"
    ),
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}


TOO_LARGE = "That was more than this site accepts in one form."
BROKEN = "Something went wrong on this site. Please try again in a few minutes."


class TooLarge(HTTPException):
    """The request body is over `MAX_BODY_BYTES` (answered 413)."""

    def __init__(self) -> None:
        super().__init__(413, TOO_LARGE)


class SecurityHeaders:
    """ASGI middleware: `HEADERS` on every response; bodies over `MAX_BODY_BYTES` refused.

    A declared Content-Length over the limit is refused before the body is read; a chunked body
    is counted as it arrives and refused when it passes the limit.
    """

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
            await send(message)

        api = scope["path"].startswith(API_PREFIX)  # answered in problem+json, not text
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.max_body:
            await _plain(with_headers, 413, TOO_LARGE, api=api)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise TooLarge()
            return message

        try:
            await self.app(scope, counted, with_headers)
        except Exception:
            # Starlette answers an unexpected error outside every middleware, so without this
            # its 500 would go out without the headers. The error is still raised, and logged.
            if not started:
                await _plain(with_headers, 500, BROKEN, api=api)
            raise


async def _plain(send: Send, status: int, text: str, *, api: bool) -> None:
    """A short plain-text answer (a problem+json one under /api), for the cases the app's own
    pages cannot make."""
    body = problem_body(status, text) if api else f"{text}\n".encode()
    media = MEDIA_TYPE.encode() if api else b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", media),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _sign(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def csrf_cookie(request: Request) -> str:
    """The browser's CSRF cookie, or a new one `render.page` will set on the response."""
    cookie = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not cookie:
        cookie = secrets.token_urlsafe(32)
        request.state.new_csrf = cookie
    return str(cookie)


def csrf_token(request: Request) -> str:
    """The token a form sends back: the HMAC of the cookie under the app's key."""
    key: bytes = request.app.state.ctx.secret
    return _sign(key, csrf_cookie(request))


def csrf_field(request: Request) -> Markup:
    """The hidden input every form carries."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        CSRF_FIELD, escape(csrf_token(request))
    )


async def require_csrf(request: Request) -> FormData:
    """The posted form, once its CSRF token matches this browser's cookie; else a 403 page."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    cookie = request.cookies.get(CSRF_COOKIE)
    key: bytes = request.app.state.ctx.secret
    if not (
        isinstance(sent, str)
        and cookie
        and hmac.compare_digest(sent.encode(), _sign(key, cookie).encode())
    ):
        raise HTTPException(
            403,
            "This form had expired or did not come from this site. Go back, reload the page "
            "and send it again.",
        )
    return form
