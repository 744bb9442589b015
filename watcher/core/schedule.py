"""When things are due: the trials to check, and the digest slot that has come (pure).

Why it looks like this:
- The daemon polls on a one-minute tick (with jitter, so a fleet of trialwatch installs does
  not knock at the same second) and checks only the trials that are *due*: never checked, or
  last checked their interval ago (`watch add --every`, else `[schedule].interval`), a tick
  early rather than a tick late. Due-ness is read from the stored `last_checked_at`, so after a
  restart the schedule resumes where it was: no burst of every trial, none skipped for longer
  than its interval. Trials checked together stay due together, so their cycles stay batched.
- Digests are due once per slot (`last_slot`); the caller compares the slot with the time of
  the last run it kept, so a daemon that was down at the hour catches up instead of skipping.
- The functions read only the few fields of a watched trial named by `Watched`, so the store's
  `TrialRow` passes as it is without this module depending on the store. See
  docs/ARCHITECTURE.md for why the core takes the clock as an argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

# How often the daemon's poll job asks what is due, and the jitter added to each tick.
TICK = timedelta(minutes=1)
TICK_JITTER_S = 10
# A trial due before the next tick can fire (jitter included) is checked on this one.
SLACK = TICK + timedelta(seconds=TICK_JITTER_S)

# The longest interval anything is checked on (settings and `--every` refuse more). A row stored
# before that limit existed (999999999 days) is read as this, not left to overflow the clock in
# the daemon and in `status`.
LONGEST_INTERVAL = timedelta(days=365)

# `[schedule].digest_weekday` takes these; `datetime.weekday()` indexes them (Monday is 0).
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class Watched(Protocol):
    """What due-ness reads of a watched trial (the store's `TrialRow` has these fields)."""

    @property
    def nct_id(self) -> str: ...

    @property
    def every_s(self) -> int | None: ...

    @property
    def last_checked_at(self) -> str | None: ...


def interval_of(trial: Watched, default: timedelta) -> timedelta:
    """The trial's own interval (`watch add --every`), else the global one; a year at most."""
    if not trial.every_s:
        return default
    return timedelta(seconds=min(trial.every_s, int(LONGEST_INTERVAL.total_seconds())))


def next_check_at(trial: Watched, default: timedelta) -> datetime | None:
    """When the trial is next due; None when it was never checked (due now)."""
    if trial.last_checked_at is None:
        return None
    return datetime.fromisoformat(trial.last_checked_at) + interval_of(trial, default)


def due_trials(
    trials: Sequence[Watched], default: timedelta, now: datetime, slack: timedelta = SLACK
) -> list[str]:
    """The NCT IDs to check now: due already, or due before the next tick could check them."""
    due: list[str] = []
    for trial in trials:
        at = next_check_at(trial, default)
        if at is None or at <= now + slack:
            due.append(trial.nct_id)
    return due


def earliest_check(trials: Sequence[Watched], default: timedelta, now: datetime) -> datetime | None:
    """When the next trial falls due (`now` when one is overdue); None with nothing watched."""
    times = [next_check_at(t, default) or now for t in trials]
    return max(min(times), now) if times else None


def last_slot(now: datetime, hour: int, weekday: str | None = None) -> datetime:
    """The latest scheduled send time at or before `now`, in `now`'s time zone.

    Daily: today at `hour`, or yesterday's when that is still ahead. Weekly: the same, on the
    latest `weekday`.
    """
    slot = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if slot > now:
        slot -= timedelta(days=1)
    if weekday is not None:
        slot -= timedelta(days=(slot.weekday() - WEEKDAYS.index(weekday)) % 7)
    return slot
