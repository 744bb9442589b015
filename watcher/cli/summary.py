"""`trialwatch summary`: what a trial is, for a patient or a coordinator, from the store or a file.

A stored NCT ID reads the latest stored version (nothing is fetched: `trialwatch check` does
that); a path reads a study JSON as the registry serves it, so a record can be summarised
before it is watched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from watcher.cli.output import emit_json
from watcher.cli.studies import latest_record, read_study_file
from watcher.cli.support import App, audience_option, pass_app, reports_errors
from watcher.core.gazetteer import resolve_near
from watcher.core.ids import is_nct_id, parse_nct_id
from watcher.core.record import parse_trial
from watcher.core.wording import TrialSummary, trial_summary
from watcher.data import load_glossary
from watcher.data.gazetteer import load_gazetteer
from watcher.delivery.templates import FORMATS, render_trial_summary


def summary_json(summary: TrialSummary) -> dict[str, Any]:
    """The JSON shape scripts read: the text as a reader sees it, the key facts with the
    criteria or record fields they come from, each criterion, and the terms explained."""
    return {
        "nct_id": summary.nct_id,
        "text": render_trial_summary(summary, "text"),
        "key_facts": [
            {
                "topic": fact.topic,
                "text": fact.text,
                # Each source is an item of "criteria" below, by its position there.
                "sources": [
                    {
                        "index": index,
                        "label": summary.items[index].label,
                        "section": summary.items[index].section,
                    }
                    for index in fact.sources
                ],
                "fields": list(fact.fields),
            }
            for fact in summary.key_facts
        ],
        "criteria": [
            {
                "section": item.section,
                "original": item.original,
                "plain": item.plain,
                # What the patient reads, as the lines it is shown in ("plain" joins them).
                "units": list(item.units),
                "shown_as_written": item.shown_as_written,
            }
            for item in summary.items
        ],
        "terms": [
            {"term": hit.term, "plain": hit.plain, "meaning": hit.meaning} for hit in summary.terms
        ],
        "grade_level": summary.grade_level,
    }


@click.command()
@click.argument("source", metavar="NCT|FILE.json")
@audience_option("patient: plain words and what they mean; coordinator: the official values.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice([*FORMATS, "json"]),
    default="text",
    show_default=True,
    help="text, HTML (escaped), or JSON for scripts.",
)
@click.option("--near", help='List sites nearest this place first, e.g. "Cambridge, MA".')
@click.option("--within", help="Sites this close to --near count as near, e.g. 10km or 60mi.")
@pass_app
@reports_errors
def summary(
    app: App, source: str, audience: str, fmt: str, near: str | None, within: str | None
) -> None:
    """Summarise a trial: a watched NCT ID's latest stored version, or a study JSON file."""
    place = resolve_near(near, within, load_gazetteer)
    path = Path(source)
    if is_nct_id(source.strip()) or not (path.suffix == ".json" or path.exists()):
        with app.store() as store:
            raw = latest_record(store, parse_nct_id(source))
    else:
        raw = read_study_file(path)
    result = trial_summary(parse_trial(raw), audience, load_glossary(), place)
    if fmt == "json":
        emit_json(summary_json(result))
    else:
        click.echo(render_trial_summary(result, "html" if fmt == "html" else "text"), nl=False)
