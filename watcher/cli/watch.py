"""`trialwatch watch add/remove/list`: which trials are watched, and how they are doing."""

from __future__ import annotations

import csv
import io
import itertools
import json
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from watcher.cli.backfill import echo_trials, exit_if_failed, run_backfill
from watcher.cli.output import emit_json
from watcher.cli.progress import progress_bar
from watcher.cli.support import App, json_option, now, pass_app, reports_errors
from watcher.config import MIN_INTERVAL, bounded_duration
from watcher.core.ids import parse_nct_ids
from watcher.core.wording.cycle import PER_TRIAL_UP_TO
from watcher.errors import InputError
from watcher.service.subscriptions import stop_watching
from watcher.store.rows import TrialRow

CSV_ID_COLUMN = "nct_id"


@click.group()
def watch() -> None:
    """Choose which trials to watch."""


def _ids_from(args: Sequence[str], file: Path | None) -> list[str]:
    texts = list(args)
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8-sig")  # a spreadsheet's CSV starts with a BOM
        except OSError as exc:
            raise InputError(f"{file}: cannot read the list of NCT IDs ({exc.strerror})") from exc
        texts += _csv_ids(text) if _is_csv(text) else _listed_ids(text)
        texts = [t for t in texts if t]
    if not texts:
        raise InputError("name at least one NCT ID (or a --file with one per line)")
    return parse_nct_ids(texts)


def _listed_ids(text: str) -> list[str]:
    """One NCT ID a line; # starts a comment."""
    return [line.split("#", 1)[0].strip() for line in text.splitlines()]


def _is_csv(text: str) -> bool:
    """Whether the file is a CSV with an `nct_id` column, as `export trials` writes."""
    header = next(csv.reader(text.splitlines()[:1]), [])
    return CSV_ID_COLUMN in (cell.strip().casefold() for cell in header)


def _csv_ids(text: str) -> list[str]:
    """The `nct_id` column of a CSV (other columns are ignored)."""
    rows = csv.DictReader(io.StringIO(text))
    column = next(n for n in rows.fieldnames or () if n.strip().casefold() == CSV_ID_COLUMN)
    return [(row.get(column) or "").strip() for row in rows]


@watch.command("add")
@click.argument("nct_ids", nargs=-1)
@click.option(
    "--file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Read NCT IDs from a file: one per line (# starts a comment), or a CSV with an nct_id "
    "column (as `export trials` writes).",
)
@click.option("--every", help='Check this trial on its own interval, e.g. "6h" (1m to 365d).')
@click.option(
    "--backfill",
    "with_history",
    is_flag=True,
    help="Also read every past version from the registry's history now (as `trialwatch "
    "backfill`; always so with [registry] backfill_on_add = true).",
)
@json_option
@pass_app
@reports_errors
def watch_add(
    app: App,
    nct_ids: tuple[str, ...],
    file: Path | None,
    every: str | None,
    with_history: bool,
    as_json: bool,
) -> None:
    """Start watching trials; they are fetched at the next check.

    Up to 20 trials are listed one by one, more are counted (--json lists each)."""
    ids = _ids_from(nct_ids, file)
    interval = None
    if every is not None:
        try:
            interval = bounded_duration(every, MIN_INTERVAL)
        except ValueError as exc:
            raise InputError(f"--every: {exc}") from exc
    with app.store() as store:
        with progress_bar("Adding", "trials", as_json=as_json) as progress:
            added = set(store.add_watches(ids, now(), interval, progress))
        history = None
        if with_history or app.settings.registry.backfill_on_add:
            history = run_backfill(app, store, ids, as_json=as_json)
    if as_json:
        emit_json(
            {
                "added": [i for i in ids if i in added],
                "already_watched": _except(ids, added),
                **({"backfill": history.to_json()} if history else {}),
            }
        )
    elif len(ids) > PER_TRIAL_UP_TO:
        click.echo(
            f"{len(added)} trial(s) now watching, {len(ids) - len(added)} already watched "
            "(--json lists each); they are fetched at the next check."
        )
    else:
        for nct_id in ids:
            click.echo(f"{nct_id}  {'now watching' if nct_id in added else 'already watched'}")
    if history is not None:
        if not as_json:
            echo_trials(history)
        exit_if_failed(history)


def _except(ids: Sequence[str], some: set[str]) -> list[str]:
    return [i for i in ids if i not in some]


@watch.command("remove")
@click.argument("nct_ids", nargs=-1, required=True)
@click.option(
    "--force",
    is_flag=True,
    help="Also stop a trial somebody follows: each subscriber is emailed, their subscription ends.",
)
@json_option
@pass_app
@reports_errors
def watch_remove(app: App, nct_ids: tuple[str, ...], force: bool, as_json: bool) -> None:
    """Stop watching trials (their stored history is kept).

    A trial with subscribers is kept unless --force: then each of them is told by email.
    """
    ids = parse_nct_ids(nct_ids)
    with app.store() as store:
        done = stop_watching(store, app.settings, ids, now(), force=force)
    removed = set(done.removed)
    if as_json:
        emit_json(
            {
                "removed": [i for i in ids if i in removed],
                "not_watched": _except(ids, removed),
                "subscribers_told": {i: n for i, n in done.told.items() if n},
            }
        )
        return
    for nct_id in ids:
        told = done.told.get(nct_id)
        also = f"; {told} subscriber(s) told, their subscription ended" if told else ""
        state = "no longer watched" if nct_id in removed else "was not watched"
        click.echo(f"{nct_id}  {state}{also}")


@watch.command("list")
@json_option
@pass_app
@reports_errors
def watch_list(app: App, as_json: bool) -> None:
    """List watched trials with their status and health."""
    with app.store() as store:
        rows = store.each_trial()  # one row at a time: 100,000 trials are never all in memory
        if as_json:
            _emit_json_rows(_listed(t) for t in rows)
            return
        first = next(rows, None)
        if first is None:
            click.echo("No trials watched yet. Add one: trialwatch watch add NCT07310784")
            return
        for t in itertools.chain([first], rows):
            status = t.overall_status or "not fetched yet"
            health = f"  failing x{t.consecutive_failures}: {t.last_error}" if t.last_error else ""
            click.echo(f"{t.nct_id}  {status:<24} {t.brief_title or ''}{health}")


def _listed(t: TrialRow) -> dict[str, Any]:
    """One trial in `watch list --json`."""
    return {
        "nct_id": t.nct_id,
        "title": t.brief_title,
        "overall_status": t.overall_status,
        "versions": t.current_version or 0,
        "last_checked_at": t.last_checked_at,
        "consecutive_failures": t.consecutive_failures,
        "last_error": t.last_error,
    }


def _emit_json_rows(items: Iterator[dict[str, Any]]) -> None:
    """A JSON array written item by item, spelt as `emit_json` spells the whole list."""
    first = next(items, None)
    if first is None:
        emit_json([])
        return
    click.echo("[")
    for n, item in enumerate(itertools.chain([first], items)):
        text = json.dumps(item, indent=2, ensure_ascii=False)
        click.echo((",\n" if n else "") + textwrap.indent(text, "  "), nl=False)
    click.echo("\n]")
