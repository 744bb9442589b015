"""A poll cycle in words: what `trialwatch check` prints and the demo shows (pure)."""

from __future__ import annotations

from watcher.core.cycle import CycleReport
from watcher.core.wording.exact import format_changes


def cycle_text(report: CycleReport) -> str:
    """The text `check` prints: one block per trial, then a one-line tally."""
    lines: list[str] = []
    for o in report.outcomes:
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
    lines.append(
        f"Checked {len(report.outcomes)} trial(s): {report.count('new_version')} new version(s), "
        f"{report.count('unchanged')} unchanged, {report.count('failed')} failed "
        f"({report.requests} request(s) to the registry)."
    )
    return "\n".join(lines)


def cycle_failure(report: CycleReport) -> str | None:
    """Why the cycle as a whole failed (cron and scripts must see it), or None.

    It failed when every trial it checked failed; when `/version` did not answer either, the
    registry could not be reached at all."""
    failed = [o for o in report.outcomes if o.result == "failed"]
    if not failed or len(failed) < len(report.outcomes):
        return None
    first = f"{failed[0].nct_id}: {failed[0].error}"
    if report.data_timestamp is None:
        return f"the registry could not be reached; nothing was checked ({first})"
    return f"every trial failed this check ({len(failed)}; first {first})"
