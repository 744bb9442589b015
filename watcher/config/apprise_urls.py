"""Apprise URLs read, never sent: can Apprise use one, does it hold a secret, how to show it.

Why it looks like this: a chat channel is an Apprise URL (`[[channels]]`), and its token sits in
the URL itself (`tgram://TOKEN/CHAT`, `json://user:PASSWORD@host`). Apprise knows, scheme by
scheme, which parts are secret: its "privacy" form masks them. A URL whose privacy form differs
from its full form holds a secret, so it belongs in a credentials file, not the settings file;
and the privacy form is what `channel list` shows and what error messages are scrubbed against.

Apprise loads its plugins when first imported (a fifth of a second), so it is imported here only
when a channel is configured, never by a command that has none.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

MASK = "********"
# Apprise URLs split into parts at these characters; a part of the full URL that the privacy
# form leaves out is a secret (a token, a password, a key).
_PARTS = re.compile(r"[/:@?&=#,]+")
_SHORTEST_SECRET = 4  # shorter parts ("no", "443", "v1") are settings, not secrets


# One caller of Apprise at a time per process: its log is shared by every thread. Re-entrant,
# since masking a reason (`scrub`) asks Apprise about the URL again.
_APPRISE = threading.RLock()


class _Lines(logging.Handler):
    """Keeps the warnings and errors Apprise logs."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(" ".join(record.getMessage().split()))


@contextmanager
def apprise_log() -> Iterator[list[str]]:
    """Apprise's warnings while inside, kept from trialwatch's own log: Apprise quotes a URL
    it cannot read whole ("Unparseable Telegram URL tgram://TOKEN/"). Mask them before use."""
    logger = logging.getLogger("apprise")
    handler = _Lines()
    with _APPRISE:
        propagate, level = logger.propagate, logger.level
        logger.propagate = False
        logger.setLevel(logging.WARNING)
        logger.addHandler(handler)
        try:
            yield handler.lines
        finally:
            logger.removeHandler(handler)
            logger.propagate, logger.level = propagate, level


def _plugin(url: str) -> Any:
    """The Apprise plugin for `url`, or None when Apprise cannot use it."""
    import apprise  # imported here, when a channel is configured: see the module docstring

    with apprise_log():
        return apprise.Apprise.instantiate(url, suppress_exceptions=True)


def url_problem(url: str) -> str | None:
    """Why Apprise cannot use `url` (one clause, fit after "[[channels]] NAME url: "), or None.

    The URL itself is not repeated: read from a credentials file, it holds a secret.
    """
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        return (
            "not an Apprise URL; write SCHEME://…, e.g. ntfy://ntfy.sh/topic "
            "(https://github.com/caronc/apprise/wiki lists the schemes)"
        )
    with apprise_log() as said:
        if _plugin(url) is not None:
            return None
    why = f" ({scrub(said[-1], url)})" if said else ""
    return (
        f"Apprise cannot use a {scheme}:// URL written this way{why}; check the scheme and "
        "the parts its page in https://github.com/caronc/apprise/wiki asks for"
    )


def shown(url: str) -> str:
    """`url` as it may be shown and logged: Apprise's privacy form, its secrets masked, without
    the query string (there Apprise spells out every default: `?image=yes&footer=yes&…`)."""
    plugin = _plugin(url)
    if plugin is None:
        return url.partition("://")[0] + "://" + MASK
    return str(plugin.url(privacy=True)).partition("?")[0]


def secret_parts(url: str) -> list[str]:
    """The parts of `url` that its privacy form leaves out: its secrets, longest first."""
    plugin = _plugin(url)
    if plugin is None:
        return [p for p in _PARTS.split(url) if len(p) >= _SHORTEST_SECRET]
    full, private = str(plugin.url(privacy=False)), str(plugin.url(privacy=True))
    visible = set(_PARTS.split(private))
    parts = {p for p in [*_PARTS.split(url), *_PARTS.split(full)] if p not in visible}
    return sorted((p for p in parts if len(p) >= _SHORTEST_SECRET), key=len, reverse=True)


def holds_secret(url: str) -> bool:
    """Whether Apprise masks any part of `url` (a token, a password) in its privacy form."""
    plugin = _plugin(url)
    return plugin is not None and plugin.url(privacy=True) != plugin.url(privacy=False)


def scrub(text: str, url: str) -> str:
    """`text` (an error Apprise logged) with every secret part of `url` masked."""
    for part in secret_parts(url):
        text = text.replace(part, MASK)
    return text
