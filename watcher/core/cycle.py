"""What one poll cycle did, per trial and in all, as plain data (pure).

`watcher.service.poll` fills it in; `trialwatch check` prints it (in words from
`watcher.core.wording.cycle`, or as the `check --json` contract), the daemon logs it and keeps
its summary for `trialwatch status`, the demo shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from watcher.core.change import Change

Result = Literal["new_version", "unchanged", "failed"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a cycle did for one trial."""

    nct_id: str
    result: Result
    version: int | None = None
    changes: tuple[Change, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CycleReport:
    """What a whole cycle did, for `check` output, logs and the daemon's status line.

    `outcomes` are the trials the cycle looked at; `passed_over` the rest, by NCT ID: checked
    against a data release still current, so nothing can have changed for them (unchanged).
    Kept apart because a cycle with no new release passes over nearly every trial, and an
    `Outcome` each for 100,000 trials would cost more than the cycle."""

    started_at: datetime
    data_timestamp: str | None
    requests: int
    outcomes: tuple[Outcome, ...]
    passed_over: tuple[str, ...] = ()

    @property
    def checked(self) -> int:
        """How many trials the cycle covered, looked at or passed over."""
        return len(self.outcomes) + len(self.passed_over)

    def count(self, result: Result) -> int:
        """How many trials ended with this result."""
        passed = len(self.passed_over) if result == "unchanged" else 0
        return passed + sum(1 for o in self.outcomes if o.result == result)

    def every_outcome(self) -> list[Outcome]:
        """Every trial's outcome, the passed over too, in NCT ID order (for per-trial text)."""
        passed = (Outcome(nct_id, "unchanged") for nct_id in self.passed_over)
        return sorted([*self.outcomes, *passed], key=lambda o: o.nct_id)

    @property
    def changes(self) -> list[tuple[str, Change]]:
        """Every change found, with its trial, in trial order."""
        return [(o.nct_id, c) for o in self.outcomes for c in o.changes]

    @property
    def feeds_to_write(self) -> list[str]:
        """Trials whose feeds are out of date: a change found, or a first version (a new
        watch gets its feed file, empty, as soon as trialwatch knows its title)."""
        return [
            o.nct_id
            for o in self.outcomes
            if o.result == "new_version" and (o.changes or o.version == 1)
        ]

    def to_json(self) -> dict[str, Any]:
        """The `check --json` contract."""
        return {
            "checked": self.checked,
            "new_versions": self.count("new_version"),
            "unchanged": self.count("unchanged"),
            "failed": [
                {"nct_id": o.nct_id, "error": o.error}
                for o in self.outcomes
                if o.result == "failed"
            ],
            "changes": [{"nct_id": nct_id, **c.to_dict()} for nct_id, c in self.changes],
            "requests": self.requests,
            "data_timestamp": self.data_timestamp,
        }
