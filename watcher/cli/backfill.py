"""`trialwatch backfill`: read every past version of watched trials from the registry's history
(`watcher.service.backfill`), and what `watch add --backfill` prints after adding.

One line per trial (or `--json`: versions fetched, stored, skipped, and the trials that failed);
a trial whose history cannot be read is one `Error:` line naming it, it stays watched and
polled, and the exit code is 1 so scripts see the partial failure.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from watcher.cli.output import emit_json
from watcher.cli.progress import progress_bar
from watcher.cli.support import App, json_option, now, pass_app, reports_errors
from watcher.core.ids import parse_nct_ids
from watcher.core.wording.cycle import PER_TRIAL_UP_TO
from watcher.core.wording.words import count_words
from watcher.errors import InputError
from watcher.service.backfill import BackfillReport, TrialBackfill, backfill_trials
from watcher.store.database import Store


@click.command()
@click.argument("nct_ids", nargs=-1)
@json_option
@pass_app
@reports_errors
def backfill(app: App, nct_ids: tuple[str, ...], as_json: bool) -> None:
    """Read every past version of trials (all watched ones when none is named) from the
    registry's history and store them before the first checked version, with what changed and
    when. Nobody is emailed about them. One request per version, at the polite rate; a
    backfill stopped halfway resumes where it stopped, and one that finished is not read again.
    Exits 1 when some trial's history could not be read (it is still watched and checked)."""
    with app.store() as store:
        if nct_ids:
            ids = parse_nct_ids(nct_ids)
            unknown = [i for i in ids if (t := store.trial(i)) is None or not t.watched]
            if unknown:
                raise InputError(
                    f"not watched: {', '.join(unknown)}; add with `trialwatch watch add "
                    f"{' '.join(unknown)} --backfill`"
                )
        else:
            ids = [t.nct_id for t in store.trials()]
            if not ids:
                raise InputError("no trials watched; add one with `trialwatch watch add NCT…`")
        report = run_backfill(app, store, ids, as_json=as_json)
    if as_json:
        emit_json(report.to_json())
    else:
        echo_trials(report)
    exit_if_failed(report)


def run_backfill(app: App, store: Store, ids: Sequence[str], *, as_json: bool) -> BackfillReport:
    """Backfill `ids` with a bar on a terminal; each failed trial one `Error:` line on stderr."""
    with progress_bar("Reading history", "trials", as_json=as_json) as progress:
        report = backfill_trials(store, app.settings, ids, now(), progress=progress)
    for trial in report.failed:
        click.echo(f"Error: {trial.error}; it is still watched and checked", err=True)
    return report


def exit_if_failed(report: BackfillReport) -> None:
    """Exit 1 when some trial's history could not be read (after everything was printed)."""
    if report.failed:
        raise SystemExit(1)


def echo_trials(report: BackfillReport) -> None:
    """One line per trial whose history was read (the failed ones were said on stderr); past
    `PER_TRIAL_UP_TO` trials, one line of counts (`--json` has each)."""
    if len(report.trials) > PER_TRIAL_UP_TO:
        totals = report.to_json()
        click.echo(
            f"{len(report.trials)} trials: {totals['fetched']} past versions read, "
            f"{totals['stored']} stored, {totals['skipped']} unchanged, "
            f"{totals['failed']} failed (--json lists each)"
        )
        return
    for trial in report.trials:
        if trial.error is None:
            click.echo(_trial_line(trial))


def _trial_line(trial: TrialBackfill) -> str:
    """What one trial's backfill did, in one line."""
    if trial.fetched == 0 and trial.stored == 0:
        return f"{trial.nct_id}  no past version left to read"
    read = count_words(trial.fetched, "past version", "past versions")
    return f"{trial.nct_id}  {read} read: {trial.stored} stored, {trial.skipped} unchanged"
