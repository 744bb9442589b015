"""A token bucket that keeps trialwatch polite to the registry.

ClinicalTrials.gov publishes no rate limit; third-party guides report about 50 requests per
minute per IP and robots.txt asks for a 1 s crawl delay. Every request, retries
included, takes a token, so a burst of retries cannot turn into a burst of traffic.

Time is injected (`clock`, `sleep`) so tests can count the waits without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """Allow `rate_per_minute` requests a minute on average, with at most `burst` back to back.

    A rate of 0 turns the limit off. Not thread-safe: a registry client sends its requests one
    at a time, and clients that share a bucket (API v2 and history) take turns in one thread.
    """

    def __init__(
        self,
        rate_per_minute: float,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_minute < 0:
            raise ValueError(f"rate_per_minute must be 0 (off) or more, not {rate_per_minute}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst}")
        self._per_second = rate_per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._updated = clock()

    def acquire(self) -> None:
        """Take one token, sleeping first when none is left."""
        if self._per_second == 0:
            return
        now = self._clock()
        refill = (now - self._updated) * self._per_second
        self._tokens = min(self._burst, self._tokens + refill)
        self._updated = now
        # Taking the token before sleeping leaves the bucket in debt; the debt is repaid by the
        # time that passes, so the bucket never has to read the clock again after the sleep.
        self._tokens -= 1.0
        if self._tokens < 0:
            self._sleep(-self._tokens / self._per_second)
