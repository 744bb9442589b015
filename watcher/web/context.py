"""What every request handler is handed: the settings, the store, the clock, the templates.

One `WebContext` is built when the app starts. Handlers open the store through `ctx.store()`
instead of keeping one connection: Starlette runs plain (non-async) handlers on a thread pool,
and a SQLite connection must not be shared between threads at once, so each worker thread gets
its own, opened on first use and kept (opening one reads the migration table). The daemon writes
the same file in WAL mode; a page's reads are autocommit statements that never block it.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from jinja2 import Environment

from watcher.config import Settings
from watcher.delivery.templates import environment
from watcher.service.wiring import open_store
from watcher.store.database import Store

SITE_NAME = "trialwatch"


@dataclass(frozen=True)
class WebContext:
    """The web front's view of one deployment (see the module docstring)."""

    settings: Settings
    clock: Callable[[], datetime]
    templates: Environment = field(default_factory=environment)
    # Signs the CSRF tokens (`security.py`). New on each start: a form opened before a restart
    # is refused once with "reload the page", which costs less than a secret to keep on disk.
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    site_name: str = SITE_NAME
    _local: threading.local = field(default_factory=threading.local, repr=False, compare=False)
    _opened: list[Store] = field(default_factory=list, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def store(self) -> Store:
        """This thread's Store on `[storage].database` (created and migrated if missing)."""
        opened: Store | None = getattr(self._local, "store", None)
        if opened is None:
            opened = open_store(self.settings)
            self._local.store = opened
            with self._lock:
                self._opened.append(opened)
        return opened

    def close(self) -> None:
        """Close every thread's Store (the app's shutdown)."""
        with self._lock:
            while self._opened:
                self._opened.pop().close()
