"""How often one client (or everybody) may do something costly: a sliding window in memory.

The web front runs as one process, so a dictionary is enough; a restart forgets the counts,
which only ever lets a little more through. Used for fetching a new trial from the registry
(`[web] allow_new_trials`), where every request is one the registry also sees.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta


class Limiter:
    """At most `count` events per `per`, counted separately for each key."""

    def __init__(self, count: int, per: timedelta, *, keys: int = 10_000) -> None:
        self.count = count
        self.per = per
        self.keys = keys  # the most keys remembered: a crawler's many addresses cost no memory
        self._seen: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: datetime) -> bool:
        """Count one event for `key` when it is within the limit; False (not counted) if not."""
        with self._lock:
            times = self._seen.setdefault(key, deque())
            while times and times[0] <= now - self.per:
                times.popleft()
            if len(times) >= self.count:
                return False
            times.append(now)
            if len(self._seen) > self.keys:
                self._seen.pop(next(iter(self._seen)))
            return True
