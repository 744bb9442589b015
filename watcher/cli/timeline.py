"""`trialwatch timeline`: a trial's story over its stored versions, in plain words or as JSON.

Reads every stored version (`service/versions.py`, shared with the web front's trial page),
dated by the registry's own last update posted date in the record; only a record without one
falls back to when trialwatch fetched it, and the JSON says so.
"""

from __future__ import annotations

import click

from watcher.cli.output import emit_json
from watcher.cli.support import App, audience_option, json_option, pass_app, reports_errors
from watcher.core.ids import parse_nct_ids
from watcher.core.wording.timeline import (
    build_timeline,
    coordinator_sentences,
    patient_sentences,
)
from watcher.core.wording.words import count_words, date_words
from watcher.errors import InputError
from watcher.service.versions import stored_versions


@click.command()
@click.argument("nct_id")
@audience_option("patient: short plain sentences; coordinator: exact values and ISO dates.")
@json_option
@pass_app
@reports_errors
def timeline(app: App, nct_id: str, audience: str, as_json: bool) -> None:
    """Tell a trial's story over its stored versions: status periods, enrollment, sites,
    eligibility edits and completion-date moves, with the registry's dates."""
    (nct,) = parse_nct_ids([nct_id])
    with app.store() as store:
        if store.trial(nct) is None:
            raise InputError(f"{nct} has never been watched, so there is no timeline")
        versions = stored_versions(store, nct)
    if not versions:
        raise InputError(f"{nct}: no version stored yet; run `trialwatch check {nct}`")
    story = build_timeline(versions)
    if as_json:
        emit_json(story.to_json())
        return
    click.echo(f"{nct}: {story.title or 'no title'}")
    if audience == "patient":
        lines = patient_sentences(story)
        stored = count_words(story.versions, "version", "versions")
        click.echo(f"{stored} stored, from {date_words(story.first)} to {date_words(story.as_of)}.")
    else:
        lines = coordinator_sentences(story)
        click.echo(
            f"{story.versions} versions, {story.first} to {story.as_of} ({story.as_of_basis})"
        )
    for line in lines:
        click.echo(f"- {line}")
