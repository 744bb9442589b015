"""How long work says how far it has got, without knowing who is watching (pure).

A service that may run for a while (a first check of many trials, queueing digests, adding a
long list of watches) takes an optional `Progress` and calls it as it goes; the command line
passes one that draws a bar on a terminal (`watcher.cli.progress`). The service never imports
a progress library, and the daemon passes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int], None]
"""Called with (done, total) each time a unit of work (a trial, a digest) is finished."""
