"""`trialwatch history` and `trialwatch diff`: a trial's stored versions and what changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from watcher.cli.output import emit_json
from watcher.cli.studies import read_study_file, stored_pair
from watcher.cli.support import App, json_option, pass_app, reports_errors
from watcher.core.diff import diff_trials
from watcher.core.ids import parse_nct_ids
from watcher.core.record import parse_trial
from watcher.core.wording import format_changes, summarize_line
from watcher.errors import InputError

# How a version's `source` is shown: fetched by a check, or read from the registry's history.
SOURCES = {"poll": "polled", "history": "history"}


@click.command()
@click.argument("nct_id")
@json_option
@pass_app
@reports_errors
def history(app: App, nct_id: str, as_json: bool) -> None:
    """List the stored versions of a trial, with what changed in each: polled ones (fetched by a
    check) and those read from the registry's history (`trialwatch backfill`), with their
    number and date in the registry's history when known."""
    (nct,) = parse_nct_ids([nct_id])
    with app.store() as store:
        if store.trial(nct) is None:
            raise InputError(f"{nct} has never been watched, so there is no history")
        versions = store.versions(nct)
        changes = store.changes(nct)
    by_version: dict[int, list[Any]] = {}
    for sc in changes:
        by_version.setdefault(sc.to_version, []).append(sc.change)
    if as_json:
        emit_json(
            [
                {
                    "version": v.version,
                    "source": SOURCES.get(v.source, v.source),
                    "registry_version": v.registry_version,
                    "registry_date": v.registry_date,
                    "fetched_at": v.fetched_at,
                    "registry_update_date": v.last_update_posted,
                    "hash": v.content_hash,
                    "changes": [c.to_dict() for c in by_version.get(v.version, [])],
                }
                for v in versions
            ]
        )
        return
    if not versions:
        click.echo(f"{nct}: no version stored yet; run `trialwatch check {nct}`")
        return
    for v in versions:
        found = by_version.get(v.version, [])
        first = v is versions[0]
        note = "first version" if first else (summarize_line(found) or "no watched field")
        registry = (
            ""
            if v.registry_version is None
            else (f"  registry v{v.registry_version} of {v.registry_date}")
        )
        click.echo(
            f"v{v.version}  {SOURCES.get(v.source, v.source)}{registry}  fetched {v.fetched_at}"
            f"  registry update {v.last_update_posted or '-'}  hash {v.content_hash[:12]}  {note}"
        )


@click.command()
@click.argument("targets", nargs=-1, required=True, metavar="OLD.json NEW.json | NCT")
@click.option(
    "--from", "from_version", type=int, help="Older stored version (default: the one before --to)."
)
@click.option("--to", "to_version", type=int, help="Newer stored version (default: the latest).")
@json_option
@pass_app
@reports_errors
def diff(
    app: App,
    targets: tuple[str, ...],
    from_version: int | None,
    to_version: int | None,
    as_json: bool,
) -> None:
    """Show what changed between two study files, or two stored versions of a trial."""
    if len(targets) == 2:
        if from_version is not None or to_version is not None:
            raise InputError("--from/--to apply to stored versions: give one NCT ID, not files")
        old, new = (read_study_file(Path(t)) for t in targets)
    elif len(targets) == 1:
        (nct,) = parse_nct_ids([targets[0]])
        with app.store() as store:
            old, new = stored_pair(store, nct, from_version, to_version)
    else:
        raise InputError("give two study files (OLD.json NEW.json) or one NCT ID")
    changes = diff_trials(parse_trial(old), parse_trial(new))
    if as_json:
        emit_json([c.to_dict() for c in changes])
    else:
        click.echo(format_changes(changes) if changes else "No changes.")
