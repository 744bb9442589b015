"""`trialwatch export changes/trials/opml`: what a coordinator opens in a spreadsheet or a feed
reader, written to stdout (`> file.csv`). The rows come from `service/exports.py`, the same
functions the API answers `?format=csv` with, so both give the same file.
"""

from __future__ import annotations

import click

from watcher.cli.output import emit_json
from watcher.cli.support import App, now, pass_app, reports_errors
from watcher.core.spreadsheet import changes_csv, trials_csv
from watcher.errors import InputError
from watcher.service.exports import (
    all_changes,
    change_json,
    parse_change_kinds,
    parse_since,
    trial_summaries,
    trials_opml,
)

format_option = click.option(
    "--format",
    "form",
    type=click.Choice(("csv", "json")),
    default="csv",
    show_default=True,
    help="csv: UTF-8 with a BOM and CRLF, as spreadsheets read it; json: for scripts.",
)


@click.group()
def export() -> None:
    """Write changes, trials or their feeds out, for spreadsheets, scripts and feed readers."""


def _write(data: bytes) -> None:
    click.echo(data, nl=False)  # bytes: written as they are (the BOM and CRLF kept)


@export.command("changes")
@click.option(
    "--since", required=True, help="A date (2026-11-24), a date-time with zone, or a duration (7d)."
)
@click.option("--kind", help="Only these kinds of change, comma-separated, e.g. status,sites.")
@format_option
@pass_app
@reports_errors
def export_changes(app: App, since: str, kind: str | None, form: str) -> None:
    """Every change found since a date or for a while, of every watched trial."""
    moment = parse_since(since, now())
    kinds = parse_change_kinds(kind)
    with app.store() as store:
        changes = list(all_changes(store, moment, kinds))
    if form == "json":
        emit_json([change_json(c) for c in changes])
    else:
        _write(changes_csv(changes))


@export.command("trials")
@format_option
@pass_app
@reports_errors
def export_trials(app: App, form: str) -> None:
    """Every watched trial: status, sites recruiting, last change, health.

    The CSV's nct_id column is what `watch add --file` reads back."""
    with app.store() as store:
        trials = list(trial_summaries(store, app.settings))
    if form == "json":
        emit_json(trials)
    else:
        _write(trials_csv(trials))


@export.command("opml")
@pass_app
@reports_errors
def export_opml(app: App) -> None:
    """Every watched trial's feed, as OPML for a feed reader (links under [web] base_url)."""
    base_url = app.settings.web.base_url
    if not base_url:
        raise InputError(
            "set [web] base_url (where `trialwatch serve` is published): the feed links need it; "
            "the site also serves this list at /feeds/trials.opml"
        )
    with app.store() as store:
        _write(trials_opml(store, base_url, now()))
