"""New watches' first versions made ready to store, in a worker process when there are many.

A first version is cleaned, hashed and packed as a keyframe (`FirstVersion.of`), and its
trial's empty feed files are rendered (`EmptyFeeds`), and nothing else: nothing is compared or
told. In a cold start that is most of the poll's own work, and it
all held the GIL the poll needs to read the next pages and to store the last ones, so on a
machine of two CPUs the poll used one. With `WORKER_FROM` new watches or more in a cycle, the
records go to a worker process in chunks, while the poll goes on fetching; each chunk comes back
as the light fields, hashes and keyframes the store writes and the feed files `FirstFeeds`
writes once they are stored.

Each record is its own fault boundary there too: a record that cannot be prepared comes back as
a one-line reason for its trial alone. If the worker itself dies (killed, out of memory), the
chunks it had are prepared here instead, and so is everything after: slower, nothing lost.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from watcher.core.version import FirstVersion
from watcher.delivery.feed_files import FeedFiles

log = logging.getLogger(__name__)

# A worker process costs a fresh interpreter (~0.2 s of the other CPU); under this many new
# watches in a cycle the poll prepares them itself.
WORKER_FROM = 1_000
# Records per chunk sent to the worker: a page of the registry's answers. Small enough that
# the worker starts early and the poll seldom waits; large enough that the pickling of calls
# and answers is a small part of the work.
CHUNK = 20

Raw = dict[str, Any]
# What else is made of a first version where it is prepared: its feed files (`EmptyFeeds`). It
# travels to the worker process, so it must pickle.
Render = Callable[[FirstVersion], FeedFiles]


@dataclass(frozen=True, slots=True)
class Ready:
    """A first version made ready to store, and its feed files (None: they could not be made;
    `write_feeds` makes them at the end of the check)."""

    first: FirstVersion
    files: FeedFiles | None


# A record that could not be prepared: its NCT ID and the one-line reason stored on the trial.
Failure = tuple[str, str]
Prepared = Ready | Failure


def failure_reason(exc: Exception) -> str:
    """An unexpected error in one trial's record, as the one-line reason stored on the trial."""
    text = " ".join(str(exc).split())[:200]
    return f"the record could not be processed ({type(exc).__name__}{': ' if text else ''}{text})"


def prepare(records: Sequence[tuple[str, Raw]], render: Render | None = None) -> list[Prepared]:
    """Each (NCT ID, record as served) made ready to store, or the reason it cannot be."""
    done: list[Prepared] = []
    for nct_id, raw in records:
        try:
            first = FirstVersion.of(nct_id, raw)
        except Exception as exc:  # one trial's fault must not stop the others
            done.append((nct_id, failure_reason(exc)))
            continue
        try:
            files = render(first) if render is not None else None
        except Exception:  # the feeds are written again at the end of the check, or fail there
            log.debug("%s: its feeds could not be rendered here", nct_id, exc_info=True)
            files = None
        done.append(Ready(first, files))
    return done


def _ignore_ctrl_c() -> None:
    """A worker leaves Ctrl-C to the poll, which ends it (its terminal gets no traceback)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Preparer:
    """First versions handed in one by one and taken out in the same order, prepared here or,
    with `expected` at `WORKER_FROM` or more, by a worker process (two, given three CPUs or
    more: the poll's own share is then the smaller; see the module's docstring)."""

    def __init__(self, expected: int, render: Render | None = None) -> None:
        self._render = render
        self._pool: ProcessPoolExecutor | None = None
        if expected >= WORKER_FROM:
            workers = max(1, min(2, (os.cpu_count() or 1) - 1))  # a CPU left for the poll
            try:
                self._pool = ProcessPoolExecutor(
                    workers, multiprocessing.get_context("spawn"), initializer=_ignore_ctrl_c
                )
            except OSError as exc:  # no shared memory for its queues (a locked-down sandbox)
                log.warning("new watches are prepared without a worker process (%s)", exc)
        self._chunk: list[tuple[str, Raw]] = []
        # The chunks in order: prepared already, or sent to the worker (kept, should it die).
        self._chunks: deque[list[Prepared] | tuple[list[tuple[str, Raw]], Future[list[Prepared]]]]
        self._chunks = deque()
        self.pending = 0  # records handed in and not yet taken

    @property
    def lead(self) -> int:
        """How many records the worker is left to go on with when the rest are taken."""
        return CHUNK if self._pool is not None else 0

    def add(self, nct_id: str, raw: Raw) -> None:
        """One more new watch's record, as served (cleaned by the preparing)."""
        self.pending += 1
        self._chunk.append((nct_id, raw))
        if self._pool is None or len(self._chunk) >= CHUNK:
            self._send()

    def take(self, *, keep: int = 0) -> list[Prepared]:
        """What was handed in, prepared, oldest first, waiting for the worker where need be;
        all but the newest `keep` records sent to the worker, which it may go on with."""
        if keep == 0 and self._chunk:
            self._send()
        taken: list[Prepared] = []
        while self._chunks and self.pending - len(taken) > keep:
            chunk = self._chunks.popleft()
            taken += chunk if isinstance(chunk, list) else self._result(*chunk)
        self.pending -= len(taken)
        return taken

    def close(self) -> None:
        """End the worker process, if there is one (what it was still given is dropped)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _send(self) -> None:
        chunk, self._chunk = self._chunk, []
        if self._pool is not None:
            try:
                self._chunks.append((chunk, self._pool.submit(prepare, chunk, self._render)))
                return
            except Exception as exc:  # the worker died, or could not be started
                self._lost(exc)
        self._chunks.append(prepare(chunk, self._render))

    def _result(
        self, chunk: list[tuple[str, Raw]], future: Future[list[Prepared]]
    ) -> list[Prepared]:
        """The chunk as the worker prepared it; prepared here if the worker died, or if the
        chunk could not travel to it or back (a record nested too deep to pickle)."""
        try:
            return future.result()
        except Exception as exc:
            if isinstance(exc, BrokenProcessPool):
                self._lost(exc)
            return prepare(chunk, self._render)

    def _lost(self, exc: Exception) -> None:
        """The worker is gone: say so once, and prepare everything here from now on."""
        if self._pool is not None:
            log.warning("new watches are prepared without a worker process from now on (%s)", exc)
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
