"""A poll cycle in words: what `trialwatch check` prints and the demo shows (pure).

`cycle_text` gives each trial its own block (its changes old → new). Past `PER_TRIAL_UP_TO`
trials (a first check of a thousand) that scrolls for pages, so `check` prints `cycle_summary`
instead: the tally, then one line per trial that changed and the first failures, each list cut
short with how many more there are (`check --verbose` prints every trial). The demo shows the
summary too: a screenful, not one.
"""

from __future__ import annotations

from watcher.core.cycle import CycleReport, Outcome
from watcher.core.wording.exact import format_changes, summarize_line

PER_TRIAL_UP_TO = 20  # trials shown one by one; more are summarised
CHANGED_SHOWN = 10  # changed trials listed by a summary, one line each
FAILED_SHOWN = 5  # failures listed by a summary


def cycle_text(report: CycleReport) -> str:
    """The text `check` prints: one block per trial, then a one-line tally."""
    return "\n".join([*_per_trial(report.every_outcome()), _tally(report)])


def cycle_summary(report: CycleReport) -> str:
    """The tally, then counts by outcome, each changed trial in one line, the first failures."""
    return "\n".join([_tally(report), *_summary(report)])


def _tally(report: CycleReport) -> str:
    return (
        f"Checked {report.checked} trial(s): {report.count('new_version')} new version(s), "
        f"{report.count('unchanged')} unchanged, {report.count('failed')} failed "
        f"({report.requests} request(s) to the registry)."
    )


def _per_trial(outcomes: list[Outcome]) -> list[str]:
    lines: list[str] = []
    for o in outcomes:
        if o.result == "failed":
            lines.append(f"{o.nct_id}  failed: {o.error}")
        elif o.result == "unchanged":
            lines.append(f"{o.nct_id}  unchanged")
        elif not o.changes:
            what = "first version stored" if o.version == 1 else "new version, no watched field"
            lines.append(f"{o.nct_id}  {what} (v{o.version})")
        else:
            n = len(o.changes)
            lines.append(f"{o.nct_id}  new version v{o.version}: {n} change{'s' * (n != 1)}")
            lines += ["    " + ln if ln else "" for ln in format_changes(o.changes).splitlines()]
    return lines


def _summary(report: CycleReport) -> list[str]:
    outcomes = report.outcomes
    firsts = sum(1 for o in outcomes if o.result == "new_version" and o.version == 1)
    quiet = sum(
        1 for o in outcomes if o.result == "new_version" and o.version != 1 and not o.changes
    )
    changed = [o for o in outcomes if o.changes]
    failed = [o for o in outcomes if o.result == "failed"]
    lines = []
    if firsts:
        lines.append(f"  {firsts} first version(s) stored")
    if quiet:
        lines.append(f"  {quiet} new version(s) with no watched field changed")
    if changed:
        lines.append(f"  {len(changed)} changed:")
        lines += [
            f"    {o.nct_id} v{o.version}  {summarize_line(o.changes)}"
            for o in changed[:CHANGED_SHOWN]
        ]
        lines += _more(len(changed) - CHANGED_SHOWN)
    if failed:
        lines.append(f"  {len(failed)} failed:")
        lines += [f"    {o.nct_id}  {o.error}" for o in failed[:FAILED_SHOWN]]
        lines += _more(len(failed) - FAILED_SHOWN)
    return lines


def _more(hidden: int) -> list[str]:
    return [f"    and {hidden} more"] if hidden > 0 else []


def cycle_failure(report: CycleReport) -> str | None:
    """Why the cycle as a whole failed (cron and scripts must see it), or None.

    It failed when every trial it checked failed; when `/version` did not answer either, the
    registry could not be reached at all."""
    failed = [o for o in report.outcomes if o.result == "failed"]
    if not failed or len(failed) < report.checked:
        return None
    first = f"{failed[0].nct_id}: {failed[0].error}"
    if report.data_timestamp is None:
        return f"the registry could not be reached; nothing was checked ({first})"
    return f"every trial failed this check ({len(failed)}; first {first})"
