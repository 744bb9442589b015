"""`trialwatch search add/list/remove/run`: saved searches, told of new matching trials."""

from __future__ import annotations

import click

from watcher.cli.output import emit_json
from watcher.cli.support import App, json_option, now, pass_app, reports_errors
from watcher.core.gazetteer import resolve_near
from watcher.core.search import PHASE_CHOICES, new_search
from watcher.data.gazetteer import load_gazetteer
from watcher.service.searches import preview, search_json
from watcher.service.wiring import registry_client
from watcher.store.searches import unknown_search


@click.group()
def search() -> None:
    """Save searches; new trials that match are stored once and sent to subscribers."""


@search.command("add")
@click.argument("name")
@click.option("--condition", help='The condition or disease, e.g. "melanoma".')
@click.option("--term", help="Other words the trial must mention.")
@click.option("--sponsor", help="The sponsor or a collaborator.")
@click.option(
    "--status", help="Only these statuses, comma-separated, e.g. recruiting,not_yet_recruiting."
)
@click.option("--phase", help=f"Only these phases, comma-separated ({PHASE_CHOICES}).")
@click.option("--near", help='A city to measure from, e.g. "Boston, MA".')
@click.option("--within", help="How far from --near a site may be, e.g. 50mi.  [default: 100km]")
@click.option("--watch-matches", is_flag=True, help="Watch each new match; subscribers follow it.")
@click.option(
    "--notify-existing", is_flag=True, help="The first run tells of what already matches."
)
@click.option(
    "--include-updated",
    is_flag=True,
    help="Also older trials that newly match (updated since the last run), not only new ones.",
)
@json_option
@pass_app
@reports_errors
def search_add(
    app: App,
    name: str,
    condition: str | None,
    term: str | None,
    sponsor: str | None,
    status: str | None,
    phase: str | None,
    near: str | None,
    within: str | None,
    watch_matches: bool,
    notify_existing: bool,
    include_updated: bool,
    as_json: bool,
) -> None:
    """Save a search NAME; it runs at each check that sees a new data release.

    Its first run records what already matches without telling anyone (unless
    --notify-existing); later runs tell its subscribers of each new match, once.
    """
    wanted = new_search(
        name,
        condition=condition,
        term=term,
        sponsor=sponsor,
        status=status,
        phase=phase,
        near=resolve_near(near, within, load_gazetteer),
        watch_matches=watch_matches,
        notify_existing=notify_existing,
        updated_too=include_updated,
    )
    with app.store() as store:
        saved = store.add_search(wanted, now())
    if as_json:
        emit_json(search_json(saved, 0))
        return
    click.echo(f"{saved.name}  saved: {saved.describe()}")
    click.echo(f"Subscribe with: trialwatch subscribe EMAIL --search {saved.name}")


@search.command("list")
@json_option
@pass_app
@reports_errors
def search_list(app: App, as_json: bool) -> None:
    """List the saved searches."""
    with app.store() as store:
        saved = store.searches()
        counts = store.search_subscriber_counts()
        matched = {s.id: len(store.search_matches(s.id)) for s in saved}
    if as_json:
        emit_json(
            [{**search_json(s, counts.get(s.id, 0)), "matches": matched[s.id]} for s in saved]
        )
        return
    if not saved:
        click.echo("No saved searches. Add one with: trialwatch search add NAME --condition …")
    for s in saved:
        people = counts.get(s.id, 0)
        ran = f"last run on the release of {s.last_release}" if s.last_release else "not run yet"
        click.echo(
            f"{s.name}  {s.describe()}; {matched[s.id]} matched, "
            f"{people} subscriber{'s' if people != 1 else ''}, {ran}"
        )


@search.command("remove")
@click.argument("name")
@json_option
@pass_app
@reports_errors
def search_remove(app: App, name: str, as_json: bool) -> None:
    """Forget the search NAME and its subscriptions (trials it watched stay watched)."""
    with app.store() as store:
        if not store.remove_search(name):
            raise unknown_search(name, [s.name for s in store.searches()], flag="NAME")
    if as_json:
        emit_json({"name": name, "result": "removed"})
        return
    click.echo(f"{name}  removed")


@search.command("run")
@click.argument("name")
@json_option
@pass_app
@reports_errors
def search_run(app: App, name: str, as_json: bool) -> None:
    """Show what the search NAME matches now on ClinicalTrials.gov; nothing is stored."""
    with app.store() as store, registry_client(app.settings) as registry:
        saved, rows = preview(store, registry, name)
    if as_json:
        emit_json([row.to_dict() for row in rows])
        return
    click.echo(f"{saved.name}: {len(rows)} trial{'s' if len(rows) != 1 else ''} match now")
    for row in rows:
        where = f" ({row.nearest})" if row.nearest else ""
        seen = "" if row.known else "  [not matched before]" if saved.last_release else ""
        click.echo(
            f"{row.nct_id}  {row.status.lower().replace('_', ' ')}{where}: {row.title}{seen}"
        )
