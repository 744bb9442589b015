"""The access log, with the secret part of token paths left out.

A confirmation, unsubscribe or manage link, and a private feed's address, is a password in a
path: whoever reads it can act as the subscriber. Uvicorn's own access log would write it out, so
`trialwatch serve` turns that off and this middleware writes one line per request instead, with
every path segment after one of `TOKEN_PREFIXES` written as "…". No client address is logged
either (readers are patients; the proxy keeps its own log if the site wants one), and no header:
an API key travels in `Authorization` only (`api_auth.py`), an address in a JSON body only.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOKEN_PREFIXES = ("/confirm/", "/unsubscribe/", "/manage/", "/feeds/private/")
REDACTED = "…"

log = logging.getLogger("trialwatch.web.access")


def redact_path(path: str) -> str:
    """`/confirm/abc/yes` → `/confirm/…/…`: nothing after a token prefix survives."""
    for prefix in TOKEN_PREFIXES:
        if path.startswith(prefix):
            rest = path[len(prefix) :]
            return prefix + "/".join(REDACTED for _ in rest.split("/")) if rest else path
    return path


class AccessLog:
    """ASGI middleware: `"GET /trials/NCT… HTTP/1.1" 200 3.1 ms`, token paths redacted.

    The query string is left out too: a search is what a reader typed about their illness.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            took = (time.perf_counter() - started) * 1000
            log.info(
                '"%s %s HTTP/%s" %d %.1f ms',
                scope["method"],
                redact_path(scope["path"]),
                scope.get("http_version", "1.1"),
                status,
                took,
            )
