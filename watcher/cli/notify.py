"""Commands for who hears about what: subscribe, unsubscribe, subscribers, deliver, digest."""

from __future__ import annotations

import os
from pathlib import Path

import click

from watcher.cli.output import delivery_json, emit_json, format_delivery
from watcher.cli.progress import progress_bar
from watcher.cli.subscribers_file import read_subscribers
from watcher.cli.support import App, json_option, now, pass_app, reports_errors
from watcher.core.addresses import validate_email
from watcher.core.change import AUDIENCES, DELIVERIES
from watcher.core.gazetteer import resolve_near
from watcher.core.ids import parse_nct_ids
from watcher.core.places import Near
from watcher.core.subscriptions import Subscription, parse_kinds
from watcher.data.gazetteer import load_gazetteer
from watcher.delivery.outbox import deliver_due
from watcher.errors import InputError
from watcher.service.digests import queue_digests
from watcher.service.subscriptions import follow_search, subscribe_many
from watcher.service.subscriptions import subscribe as subscribe_to
from watcher.store.subscribers import SubscriptionOutcome


def _address(text: str) -> str:
    try:
        return validate_email(text)
    except ValueError as exc:
        raise InputError(f"EMAIL: {exc}") from exc


# The options a subscription has, as `subscribe` names them; a new one's values when not given.
_OPTIONS = (("audience", "audience"), ("delivery", "digest"), ("kinds", "kinds"), ("near", "near"))
_DEFAULT = Subscription(id=0, subscriber_id=0, nct_id="")


def _value(sub: Subscription, field: str) -> object:
    value = getattr(sub, field)
    if isinstance(value, Near):
        return str(value)  # "Cambridge, Massachusetts, United States (within 10 km)"
    return ",".join(sorted(value)) if isinstance(value, frozenset) else value


def _shown(value: object) -> str:
    return "default" if value is None else str(value)


def _what_changed(outcome: SubscriptionOutcome, given: frozenset[str]) -> str:
    """ "digest: immediate → weekly; near kept": what a re-subscription did to each option."""
    before, after = outcome.before, outcome.after
    assert before is not None  # a new subscription changes nothing: it starts
    said = []
    for field, name in _OPTIONS:
        old, new = _value(before, field), _value(after, field)
        if old != new:
            said.append(f"{name}: {_shown(old)} → {_shown(new)}")
        elif field not in given and old != _value(_DEFAULT, field):
            said.append(f"{name} kept")
    return "; ".join(said) if said else "nothing changed"


def _options(sub: Subscription) -> dict[str, object]:
    return {field: _value(sub, field) for field, _ in _OPTIONS}


@click.command()
@click.argument("email", required=False)
@click.argument("nct_ids", nargs=-1)
@click.option(
    "--search",
    "search_name",
    metavar="NAME",
    help="Hear of new trials matching this saved search (`trialwatch search add`) instead.",
)
@click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Subscribe everyone in this CSV file at once: a header row, columns email,trials "
    "(NCT IDs separated by spaces) and any of audience,digest,kinds,near,within.",
)
@click.option(
    "--audience",
    type=click.Choice(AUDIENCES),
    help="patient: plain words; coordinator: exact old → new values.  [default: patient]",
)
@click.option(
    "--digest",
    "delivery",
    type=click.Choice(DELIVERIES),
    help="Send each change at once, or gather them in a daily or weekly digest.  "
    "[default: immediate]",
)
@click.option(
    "--kinds",
    help="Only these change kinds, comma-separated (default: what the audience cares about).",
)
@click.option(
    "--near",
    help='Leave out site changes farther away, e.g. "Cambridge, MA", "Beijing, China", "China".',
)
@click.option(
    "--within",
    help="How far from --near a site may be, e.g. 10km or 60mi.  [default: 100km]",
)
@json_option
@pass_app
@reports_errors
def subscribe(
    app: App,
    email: str | None,
    nct_ids: tuple[str, ...],
    audience: str | None,
    delivery: str | None,
    kinds: str | None,
    near: str | None,
    within: str | None,
    search_name: str | None,
    file: Path | None,
    as_json: bool,
) -> None:
    """Send EMAIL a notification when these trials change (watching them if needed), or,
    with --search NAME, when a new trial matches that saved search.

    A trial not watched yet is looked up on ClinicalTrials.gov first. Subscribing again
    changes only the options given; each new subscription starts with a welcome email.
    With --file, every line of the file is one such subscribe, all in one go: a file with a
    bad line is refused whole, naming each bad line.
    """
    if file is not None:
        given_too = [
            name
            for name, value in (
                ("EMAIL", email),
                ("NCT_IDS", nct_ids),
                ("--audience", audience),
                ("--digest", delivery),
                ("--kinds", kinds),
                ("--near", near),
                ("--within", within),
                ("--search", search_name),
            )
            if value
        ]
        if given_too:
            raise InputError(
                f"--file takes everything from its columns; drop {', '.join(given_too)}"
            )
        _subscribe_file(app, file, as_json)
        return
    if email is None:
        raise InputError("give EMAIL and NCT IDs to subscribe to, or --file subscribers.csv")
    address = _address(email)
    if search_name is not None:
        if nct_ids or any(v is not None for v in (audience, delivery, kinds, near, within)):
            raise InputError(
                "--search takes EMAIL alone: the search says what and where, and its new "
                "matches come as one email per data release (no --digest, --audience, --kinds, "
                "--near or NCT IDs)"
            )
        with app.store() as store:
            _, added = follow_search(store, app.settings, address, search_name, now())
        said = "subscribed" if added else "already subscribed"
        if as_json:
            emit_json({"search": search_name, "result": said.replace(" ", "_")})
        else:
            click.echo(f"search {search_name}  {said}: new matches are emailed once each")
        return
    if not nct_ids:
        raise InputError("name at least one NCT ID, or --search NAME, or --file subscribers.csv")
    ids = parse_nct_ids(nct_ids)
    wanted = parse_kinds(kinds)
    place = resolve_near(near, within, load_gazetteer)  # refused now, not at the first change
    given = frozenset(
        field
        for field, value in (
            ("audience", audience),
            ("delivery", delivery),
            ("kinds", wanted),
            ("near", place),
        )
        if value is not None
    )
    with app.store() as store:
        result = subscribe_to(
            store,
            app.settings,
            address,
            ids,
            now(),
            audience=audience,
            delivery=delivery,
            kinds=wanted,
            near=place,
        )
    for problem in result.problems:
        click.echo(f"Warning: {problem}", err=True)
    if as_json:
        emit_json(
            [
                {
                    "nct_id": o.after.nct_id,
                    "result": "subscribed" if o.before is None else "updated",
                    "watched_now": o.after.nct_id in result.watched_now,
                    "welcome_queued": o.before is None,
                    "changed": {}
                    if o.before is None
                    else {
                        field: [_value(o.before, field), _value(o.after, field)]
                        for field, _ in _OPTIONS
                        if _value(o.before, field) != _value(o.after, field)
                    },
                    "options": _options(o.after),
                }
                for o in result.outcomes
            ]
        )
        return
    for o in result.outcomes:
        nct_id = o.after.nct_id
        watched = " (now watched)" if nct_id in result.watched_now else ""
        if o.before is None:
            how = ", ".join(
                f"{name} {_shown(_value(o.after, f))}"
                for f, name in _OPTIONS
                if _value(o.after, f) is not None
            )
            click.echo(f"{nct_id}  subscribed{watched}: {how}; welcome email queued")
        else:
            click.echo(f"{nct_id}  already subscribed: {_what_changed(o, given)}")


def _subscribe_file(app: App, path: Path, as_json: bool) -> None:
    """`subscribe --file`: counts only, never an address (the output may be logged)."""
    requests = read_subscribers(path)
    with app.store() as store:
        result = subscribe_many(store, app.settings, requests, now())
    for problem in result.problems:
        click.echo(f"Warning: {problem}", err=True)
    new = sum(1 for o in result.outcomes if o.before is None)
    counts = {
        "lines": len(requests),
        "subscribed": new,
        "updated": len(result.outcomes) - new,
        "watched_now": list(result.watched_now),
    }
    if as_json:
        emit_json(counts)
        return
    watched = f"; {len(result.watched_now)} trials now watched" if result.watched_now else ""
    click.echo(
        f"{path.name}: {len(requests)} lines, {new} new subscriptions (welcome emails queued), "
        f"{counts['updated']} already subscribed{watched}"
    )


@click.command()
@click.argument("email", required=False)
@click.argument("nct_ids", nargs=-1)
@click.option("--token", help="The token from an email's unsubscribe link.")
@json_option
@pass_app
@reports_errors
def unsubscribe(
    app: App, email: str | None, nct_ids: tuple[str, ...], token: str | None, as_json: bool
) -> None:
    """Stop notifications: for some trials, for all of them, or by an email's token.

    Unsubscribing twice is not an error: the second time says "already unsubscribed".
    """
    if (email is None) == (token is None):
        raise InputError("give either EMAIL [NCT…] or --token TOKEN")
    if token is not None and nct_ids:
        raise InputError("--token ends every subscription of its subscriber; drop the IDs")
    ids = parse_nct_ids(nct_ids) if nct_ids else None
    with app.store() as store:
        if token is not None:
            subscriber = store.subscriber(token=token)
        else:
            subscriber = store.subscriber(email=_address(email or ""))
        ended = store.unsubscribe(subscriber, ids) if subscriber is not None else 0
    if as_json:
        emit_json({"ended": ended, "already_unsubscribed": ended == 0})
        return
    if ended:
        click.echo(f"{ended} subscription(s) ended")
    else:
        click.echo("already unsubscribed: nothing to end")


@click.command()
@json_option
@pass_app
@reports_errors
def subscribers(app: App, as_json: bool) -> None:
    """List subscribers and what each follows."""
    with app.store() as store:
        rows = store.subscriptions()
    if as_json:
        people: dict[str, list[dict[str, object]]] = {}
        for subscriber, sub in rows:
            people.setdefault(subscriber.email, []).append(
                {
                    "nct_id": sub.nct_id,
                    "audience": sub.audience,
                    "delivery": sub.delivery,
                    "kinds": sorted(sub.kinds) if sub.kinds is not None else None,
                    "near": sub.near.name if sub.near else None,
                    "within": str(sub.near.within) if sub.near and sub.near.point else None,
                }
            )
        emit_json([{"email": e, "subscriptions": s} for e, s in people.items()])
        return
    if not rows:
        click.echo("No subscribers yet. Add one: trialwatch subscribe EMAIL NCT…")
    for subscriber, sub in rows:
        extra = f", near {sub.near}" if sub.near else ""
        kinds = f", kinds {','.join(sorted(sub.kinds))}" if sub.kinds is not None else ""
        click.echo(
            f"{subscriber.email}  {sub.nct_id}  {sub.audience}, {sub.delivery}{extra}{kinds}"
        )


@click.command()
@json_option
@pass_app
@reports_errors
def deliver(app: App, as_json: bool) -> None:
    """Send the messages waiting in the outbox (retries included)."""
    settings = app.checked_settings()
    with app.store() as store:
        report = deliver_due(store, settings, now(), os.environ)
    if as_json:
        emit_json(delivery_json(report))
        return
    click.echo(format_delivery(report, settings))


@click.command()
@click.option("--now", "force", is_flag=True, help="Send every waiting digest, due or not.")
@json_option
@pass_app
@reports_errors
def digest(app: App, force: bool, as_json: bool) -> None:
    """Queue the daily/weekly digests that are due (all with --now) and send them."""
    settings = app.checked_settings()
    with app.store() as store:
        with progress_bar("Digests", "subscribers", as_json=as_json) as progress:
            run = queue_digests(store, settings, now(), force=force, progress=progress)
        report = deliver_due(store, settings, now(), os.environ)
    if as_json:
        emit_json({"queued": run.queued, "delivery": delivery_json(report)})
        return
    if not run.queued:
        click.echo("No digest is due (use --now to send waiting changes anyway).")
        return
    for delivery, count in run.queued.items():
        click.echo(f"{delivery.capitalize()} digests queued: {count}.")
    click.echo(format_delivery(report, settings))
