"""A trial's stored versions as the timeline reads them, for `trialwatch timeline` and the web.

Reads every stored version, whatever its source (polled, or backfilled from the registry's
history), and dates each by the registry's own last update posted date in the record; only a
record without one falls back to when trialwatch fetched it, and the timeline's JSON says so.
"""

from __future__ import annotations

from watcher.core.record import parse_trial
from watcher.core.wording.timeline import TimelineVersion
from watcher.store.database import Store


def stored_versions(store: Store, nct: str) -> list[TimelineVersion]:
    """Every stored version of a trial, oldest first, dated by the registry."""
    out: list[TimelineVersion] = []
    for row in store.versions(nct):
        trial = parse_trial(store.record(nct, row.version))
        posted = trial.last_update_posted or row.last_update_posted
        date, basis = (
            (posted, "last_update_posted") if posted else (row.fetched_at[:10], "fetched_at")
        )
        out.append(TimelineVersion(row.version, date, basis, trial, row.source))
    return out
