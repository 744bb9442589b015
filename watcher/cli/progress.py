"""Progress bars for long work, on a terminal only (the edge that draws `core.progress`).

A command that may run for a while (a first check of many trials, `watch add --file`, queueing
digests) opens `progress_bar` and hands the callback it yields to the service, which calls it
with (done, total) and knows nothing of bars. The bar is drawn with tqdm on stderr, like git's
progress: only when stderr is a terminal, never with `--json`, so nothing reaches a pipe, a
log or cron's mail, and stdout stays data. It appears only once the work has taken
`SHOW_AFTER_S` (a quick command never flickers) and is erased when the work ends, so what the
command prints afterwards is all that stays on the screen.

Why tqdm and not rich: one 80 kB pure-Python wheel with no dependencies on Linux (rich brings
pygments and markdown-it-py, some 4 MB, for features trialwatch does not use); it draws on any
stream with a carriage return; licence MPL-2.0 AND MIT, fine to depend on from MIT code. Its
own `disable=None` tests `isatty()` of the stream; the test here is explicit instead.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from tqdm import tqdm

from watcher.core.progress import Progress

SHOW_AFTER_S = 0.5  # work shorter than this draws nothing


def wants_bar(stream: TextIO, *, as_json: bool) -> bool:
    """Draw on `stream`? Only a terminal, and never beside JSON for a script."""
    return not as_json and stream.isatty()


@contextmanager
def progress_bar(
    label: str, unit: str, *, as_json: bool, stream: TextIO | None = None
) -> Iterator[Progress | None]:
    """A `Progress` drawing a bar labelled `label` on `stream` (stderr) while the block runs,
    or None (the service then reports to nobody) off a terminal or with `--json`."""
    out = stream or sys.stderr
    if not wants_bar(out, as_json=as_json):
        yield None
        return
    bars: list[tqdm[Any]] = []  # the bar of the stage in hand, made when its total is known

    def advance(done: int, total: int) -> None:
        if not bars or bars[-1].total != total or done < bars[-1].n:  # a new stage begins
            if bars:
                bars[-1].close()
            bars.append(
                tqdm(
                    desc=label,
                    total=total,
                    unit=f" {unit}",
                    file=out,
                    delay=SHOW_AFTER_S,
                    leave=False,
                    dynamic_ncols=True,
                )
            )
        bars[-1].update(done - bars[-1].n)

    try:
        yield advance
    finally:
        if bars:
            bars[-1].close()
