"""The `trialwatch` command line: parse arguments, call one function, print the result.

Every expected failure is a `WatcherError`; it is printed as one `Error: …` line on stderr and
the process exits with the error's code (78 for configuration, 2 for bad arguments, 1 for the
rest), never with a traceback. Data goes to stdout, in text for people or `--json` for scripts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from watcher import __version__
from watcher.cli.notify import format_delivery
from watcher.cli.support import App, emit_json, json_option, now, pass_app, reports_errors
from watcher.config import MIN_INTERVAL, effective_json, format_effective, parse_duration
from watcher.core.diff import diff_trials
from watcher.core.ids import parse_nct_ids
from watcher.core.record import parse_trial
from watcher.core.wording.exact import format_changes, summarize_line
from watcher.delivery.feed_files import write_feeds
from watcher.delivery.outbox import deliver_due
from watcher.errors import InputError
from watcher.service.demo import run_demo
from watcher.service.poll import CycleReport, run_cycle
from watcher.service.wiring import notice_planner, registry_client


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trialwatch")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="TRIALWATCH_CONFIG",
    help="TOML settings file (default: $TRIALWATCH_CONFIG, else built-in defaults).",
)
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """Watch ClinicalTrials.gov records and say, in plain English, what changed."""
    ctx.obj = App(config_path)


# -- watch ----------------------------------------------------------------------------------


@main.group()
def watch() -> None:
    """Choose which trials to watch."""


def _ids_from(args: Sequence[str], file: Path | None) -> list[str]:
    texts = list(args)
    if file is not None:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise InputError(f"{file}: cannot read the list of NCT IDs ({exc.strerror})") from exc
        texts += [ln.split("#", 1)[0].strip() for ln in lines]
        texts = [t for t in texts if t]
    if not texts:
        raise InputError("name at least one NCT ID (or a --file with one per line)")
    return parse_nct_ids(texts)


@watch.command("add")
@click.argument("nct_ids", nargs=-1)
@click.option(
    "--file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Read NCT IDs from a file, one per line (# starts a comment).",
)
@click.option("--every", help='Check this trial on its own interval, e.g. "6h" (at least 1m).')
@pass_app
@reports_errors
def watch_add(app: App, nct_ids: tuple[str, ...], file: Path | None, every: str | None) -> None:
    """Start watching trials; they are fetched at the next check."""
    ids = _ids_from(nct_ids, file)
    interval = None
    if every is not None:
        try:
            interval = parse_duration(every)
        except ValueError as exc:
            raise InputError(f"--every: {exc}") from exc
        if interval < MIN_INTERVAL:
            raise InputError(f"--every {every!r} is shorter than the 1 minute minimum")
    with app.store() as store:
        added = store.add_watches(ids, now(), interval)
    for nct_id in ids:
        state = "now watching" if nct_id in added else "already watched"
        click.echo(f"{nct_id}  {state}")


@watch.command("remove")
@click.argument("nct_ids", nargs=-1, required=True)
@pass_app
@reports_errors
def watch_remove(app: App, nct_ids: tuple[str, ...]) -> None:
    """Stop watching trials (their stored history is kept)."""
    ids = parse_nct_ids(nct_ids)
    with app.store() as store:
        removed = store.remove_watches(ids)
    for nct_id in ids:
        click.echo(f"{nct_id}  {'no longer watched' if nct_id in removed else 'was not watched'}")


@watch.command("list")
@json_option
@pass_app
@reports_errors
def watch_list(app: App, as_json: bool) -> None:
    """List watched trials with their status and health."""
    with app.store() as store:
        rows = store.trials()
    if as_json:
        emit_json(
            [
                {
                    "nct_id": t.nct_id,
                    "title": t.brief_title,
                    "overall_status": t.overall_status,
                    "versions": t.current_version or 0,
                    "last_checked_at": t.last_checked_at,
                    "consecutive_failures": t.consecutive_failures,
                    "last_error": t.last_error,
                }
                for t in rows
            ]
        )
        return
    if not rows:
        click.echo("No trials watched yet. Add one: trialwatch watch add NCT07310784")
        return
    for t in rows:
        status = t.overall_status or "not fetched yet"
        health = f"  failing x{t.consecutive_failures}: {t.last_error}" if t.last_error else ""
        click.echo(f"{t.nct_id}  {status:<24} {t.brief_title or ''}{health}")


# -- check ----------------------------------------------------------------------------------


@main.command()
@click.argument("nct_ids", nargs=-1)
@json_option
@pass_app
@reports_errors
def check(app: App, nct_ids: tuple[str, ...], as_json: bool) -> None:
    """Run one poll cycle now and report, per trial, what was found."""
    ids = parse_nct_ids(nct_ids) if nct_ids else None
    settings = app.settings
    with app.store() as store:
        if ids:
            unknown = [i for i in ids if (t := store.trial(i)) is None or not t.watched]
            if unknown:
                raise InputError(
                    f"not watched: {', '.join(unknown)}; add with `trialwatch watch add "
                    f"{' '.join(unknown)}`"
                )
        elif not store.trials():
            raise InputError("no trials watched; add one with `trialwatch watch add NCT…`")
        with registry_client(settings) as registry:
            report = run_cycle(
                store,
                registry,
                now(),
                full_check_every=settings.schedule.full_check_every,
                nct_ids=ids,
                planner=notice_planner(store, settings),
            )
        if report.feeds_to_write:
            write_feeds(store, settings, now(), report.feeds_to_write)
        delivery = deliver_due(store, settings, now(), os.environ)
    if as_json:
        emit_json({**report.to_json(), "delivery": delivery.to_json()})
    else:
        click.echo(format_cycle(report))
        if delivery.attempted:
            click.echo(format_delivery(delivery, settings))


def format_cycle(report: CycleReport) -> str:
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


# -- history --------------------------------------------------------------------------------


@main.command()
@click.argument("nct_id")
@json_option
@pass_app
@reports_errors
def history(app: App, nct_id: str, as_json: bool) -> None:
    """List the stored versions of a trial, with what changed in each."""
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
        note = "first version" if v.version == 1 else (summarize_line(found) or "no watched field")
        click.echo(
            f"v{v.version}  fetched {v.fetched_at}  registry update {v.last_update_posted or '-'}"
            f"  hash {v.content_hash[:12]}  {note}"
        )


# -- diff -----------------------------------------------------------------------------------


def _read_study(path: Path) -> dict[str, Any]:
    """A study JSON file as saved from `GET /api/v2/studies/{nctId}`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a JSON file ({exc})") from exc
    if not isinstance(data, dict) or "protocolSection" not in data:
        raise InputError(
            f"{path}: not a ClinicalTrials.gov API v2 study (no protocolSection); save one with "
            "GET https://clinicaltrials.gov/api/v2/studies/NCT…"
        )
    return data


@main.command()
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
        old, new = (_read_study(Path(t)) for t in targets)
    elif len(targets) == 1:
        old, new = _stored_pair(app, targets[0], from_version, to_version)
    else:
        raise InputError("give two study files (OLD.json NEW.json) or one NCT ID")
    changes = diff_trials(parse_trial(old), parse_trial(new))
    if as_json:
        emit_json([c.to_dict() for c in changes])
    else:
        click.echo(format_changes(changes) if changes else "No changes.")


def _stored_pair(
    app: App, target: str, from_version: int | None, to_version: int | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    (nct,) = parse_nct_ids([target])
    with app.store() as store:
        latest = store.version(nct)
        if latest is None:
            raise InputError(f"{nct}: no stored version; watch it and run `trialwatch check`")
        new_v = latest.version if to_version is None else to_version
        old_v = new_v - 1 if from_version is None else from_version
        for v in (old_v, new_v):
            if not 1 <= v <= latest.version:
                raise InputError(
                    f"{nct}: no version {v}; stored versions are 1 to {latest.version}"
                )
        return store.record(nct, old_v), store.record(nct, new_v)


# -- demo -----------------------------------------------------------------------------------


@main.command()
@click.option(
    "--dir",
    "state_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Keep the demo's state here (default: a new temporary directory).",
)
@reports_errors
def demo(state_dir: Path | None) -> None:
    """Run the whole pipeline offline against a local replay of the registry."""
    if state_dir is not None:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    run_demo(click.echo, format_cycle, state_dir)


# -- check-config ---------------------------------------------------------------------------


@main.command("check-config")
@json_option
@pass_app
@reports_errors
def check_config(app: App, as_json: bool) -> None:
    """Validate the settings and print the effective values (secrets masked)."""
    settings = app.settings
    if as_json:
        emit_json(effective_json(settings))
    else:
        source = settings.source or "built-in defaults"
        click.echo(f"# configuration OK — from {source}")
        click.echo(format_effective(settings))


# -- commands kept beside the code they drive ------------------------------------------------
# (one line each; the modules import their helpers from cli_support, never from here)
from watcher.cli import daemon as cli_daemon  # noqa: E402  (after `main`)
from watcher.cli import notify as cli_notify  # noqa: E402
from watcher.cli import summary as cli_summary  # noqa: E402

for _command in (
    cli_notify.subscribe,
    cli_notify.unsubscribe,
    cli_notify.subscribers,
    cli_notify.deliver,
    cli_notify.digest,
    cli_daemon.run,
    cli_daemon.status,
):
    main.add_command(_command)
main.add_command(cli_summary.summary)
