"""A trial a reader asked for on the web front, watched when `[web] allow_new_trials` says so.

The lookup is `subscribe`'s (`service/subscriptions.py:look_up`): an NCT ID the registry does
not list is refused before anything is stored. Then the trial is watched and checked at once
(`check_now` for that trial alone, nothing delivered), so the reader's next page shows it with
its first stored version instead of "not watched yet". `[web] max_trials` caps how many trials
the site watches in all, so a crawler typing NCT IDs cannot make the daemon poll the registry
for ever more of them.
"""

from __future__ import annotations

from datetime import datetime

from watcher.config import Settings
from watcher.errors import InputError
from watcher.service.check import check_now
from watcher.service.subscriptions import look_up
from watcher.store.database import Store


def watch_asked_trial(store: Store, settings: Settings, nct_id: str, now: datetime) -> None:
    """Watch and check `nct_id` for a reader; an `InputError` in plain words when the site is
    full or the registry lists no such trial, a `RegistryError` when it cannot be reached."""
    if len(store.trials()) >= settings.web.max_trials:
        raise InputError(
            "This site follows as many trials as it can already, so it cannot add "
            f"{nct_id}. You can read it on ClinicalTrials.gov."
        )
    look_up(store, settings, nct_id)
    store.add_watches([nct_id], now)
    check_now(store, settings, now, env={}, nct_ids=[nct_id], deliver=False)
