"""`trialwatch check`: one check now (`watcher.service.check.check_now`), then what it found."""

from __future__ import annotations

import os

import click

from watcher.cli.output import delivery_json, emit_json, format_delivery
from watcher.cli.progress import progress_bar
from watcher.cli.support import App, json_option, now, pass_app, reports_errors
from watcher.core.addresses import redact_addresses
from watcher.core.ids import parse_nct_ids
from watcher.core.wording.cycle import PER_TRIAL_UP_TO, cycle_failure, cycle_summary, cycle_text
from watcher.core.wording.search import run_line
from watcher.delivery.outbox import DeliveryReport
from watcher.errors import InputError
from watcher.service.check import check_now


@click.command()
@click.argument("nct_ids", nargs=-1)
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help=f"Every trial's changes in full, however many (past {PER_TRIAL_UP_TO}: a summary).",
)
@json_option
@pass_app
@reports_errors
def check(app: App, nct_ids: tuple[str, ...], verbose: bool, as_json: bool) -> None:
    """Run one poll cycle now and report, per trial, what was found.

    Up to 20 trials are reported one by one, more are summarised (--verbose: all). On a
    terminal a progress bar shows while trials are checked. Exits 1 when a step after the poll
    failed, or when every trial failed (the registry could not be reached, for one), so cron
    and scripts see it; the report is printed first."""
    ids = parse_nct_ids(nct_ids) if nct_ids else None
    settings = app.checked_settings()
    with app.store() as store:
        if ids:
            unknown = [i for i in ids if (t := store.trial(i)) is None or not t.watched]
            if unknown:
                raise InputError(
                    f"not watched: {', '.join(unknown)}; add with `trialwatch watch add "
                    f"{' '.join(unknown)}`"
                )
        elif not store.watched_count() and not store.searches():
            raise InputError(
                "no trials watched and no search saved; add one with `trialwatch watch add "
                "NCT…` or `trialwatch search add NAME --condition …`"
            )
        with progress_bar("Checking", "trials", as_json=as_json) as progress:
            result = check_now(
                store, settings, now(), env=os.environ, nct_ids=ids, progress=progress
            )
    report, delivery = result.report, result.delivery or DeliveryReport()
    failure = cycle_failure(report)
    problems = (*result.problems, *([failure] if failure else []))
    for problem in problems:  # an exception's text: it may quote an address
        click.echo(f"Error: {redact_addresses(problem)}", err=True)
    if as_json:
        emit_json({**report.to_json(), "delivery": delivery_json(delivery)})
    else:
        if verbose or report.checked <= PER_TRIAL_UP_TO:
            click.echo(cycle_text(report))
        else:
            click.echo(cycle_summary(report))
            click.echo("Every trial in full: `check --verbose` or `--json` next time; what a")
            click.echo("trial's last version changed: `trialwatch diff NCT…`.")
        for ran in result.searches:
            if ran.error is None:
                click.echo(run_line(ran.name, len(ran.new), ran.baseline, ran.told))
        if delivery.attempted:
            click.echo(format_delivery(delivery, settings))
    if problems:
        raise SystemExit(1)
