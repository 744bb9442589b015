"""Who may use the API: bearer keys, `[api] public_read`, and a per-client request limit.

Writes, and anything that shows a subscriber's subscriptions, always need a key; reads need
one unless `[api] public_read = true`. A key comes as `Authorization: Bearer KEY` and nowhere
else: not a cookie (nothing a browser sends by itself, so no cross-site request can use it),
not the query string (URLs are logged by proxies; the access log, `logs.py`, writes the path
only). A missing or unknown key is 401 with `WWW-Authenticate: Bearer`; a revoked one 403, so
the script's owner learns which. The key is looked up by its hash (`store/api_keys.py`).
"""

from __future__ import annotations

from datetime import timedelta
from enum import Enum

from starlette.requests import Request

from watcher.store.api_keys import ApiKey
from watcher.web.context import WebContext
from watcher.web.limits import Limiter
from watcher.web.problems import Problem

CHALLENGE = {"www-authenticate": 'Bearer realm="trialwatch"'}


class Access(Enum):
    """What a route asks of its caller."""

    READ = "read"  # public when [api] public_read
    PRIVATE = "private"  # a subscriber's data: always a key
    WRITE = "write"  # always a key


class Guard:
    """Checks each API request: its client's rate, then its key when the route needs one."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.limit = Limiter(ctx.settings.api.requests_per_minute, timedelta(minutes=1))

    def check(self, request: Request, access: Access) -> ApiKey | None:
        """The caller's key (None for an anonymous public read), or a `Problem` raised."""
        now = self.ctx.clock()
        client = request.client.host if request.client else "unknown"
        if not self.limit.allow(client, now):
            raise Problem(
                429,
                "Too many requests from this client in the last minute; wait a minute and go on.",
                headers={"retry-after": "60"},
            )
        key = _bearer(request)
        if key is None:
            if access is Access.READ and self.ctx.settings.api.public_read:
                return None
            raise Problem(
                401,
                "This needs an API key: send `Authorization: Bearer KEY` "
                "(the site's admin makes one with `trialwatch api-key create NAME`).",
                headers=CHALLENGE,
            )
        found = self.ctx.store().api_key(key, now)
        if found is None:
            raise Problem(
                401, "This API key is not known here; check it was copied whole.", headers=CHALLENGE
            )
        if found.revoked:
            raise Problem(
                403, f"The API key {found.name!r} was revoked; ask the site's admin for a new one."
            )
        return found


def _bearer(request: Request) -> str | None:
    """The key of `Authorization: Bearer KEY`, or None without one; any other scheme is a 401
    that says what to send."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, key = header.strip().partition(" ")
    if scheme.casefold() != "bearer" or not key.strip():
        raise Problem(
            401, "Send the key as `Authorization: Bearer KEY` (no other scheme).", headers=CHALLENGE
        )
    return key.strip()
