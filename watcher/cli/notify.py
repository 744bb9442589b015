"""Commands for who hears about what: subscribe, unsubscribe, subscribers, deliver, digest."""

from __future__ import annotations

import os

import click

from watcher.cli.output import delivery_json, emit_json, format_delivery
from watcher.cli.support import App, audience_option, json_option, now, pass_app, reports_errors
from watcher.core.addresses import validate_email
from watcher.core.change import DELIVERIES
from watcher.core.gazetteer import resolve_near
from watcher.core.ids import parse_nct_ids
from watcher.core.subscriptions import parse_kinds
from watcher.data.gazetteer import load_gazetteer
from watcher.delivery.outbox import deliver_due
from watcher.errors import InputError
from watcher.service.digests import queue_digests


def _address(text: str) -> str:
    try:
        return validate_email(text)
    except ValueError as exc:
        raise InputError(f"EMAIL: {exc}") from exc


@click.command()
@click.argument("email")
@click.argument("nct_ids", nargs=-1, required=True)
@audience_option("patient: plain words; coordinator: exact old → new values.")
@click.option(
    "--digest",
    "delivery",
    type=click.Choice(DELIVERIES),
    default="immediate",
    show_default=True,
    help="Send each change at once, or gather them in a daily or weekly digest.",
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
@pass_app
@reports_errors
def subscribe(
    app: App,
    email: str,
    nct_ids: tuple[str, ...],
    audience: str,
    delivery: str,
    kinds: str | None,
    near: str | None,
    within: str | None,
) -> None:
    """Send EMAIL a notification when these watched trials change."""
    address = _address(email)
    ids = parse_nct_ids(nct_ids)
    wanted = parse_kinds(kinds)
    place = resolve_near(
        near, within, load_gazetteer
    )  # an unknown place is refused now, not at a change
    with app.store() as store:
        store.subscribe(
            address, ids, now(), audience=audience, delivery=delivery, kinds=wanted, near=place
        )
    how = f"{audience}, {delivery}" + (f", near {place}" if place else "")
    for nct_id in ids:
        click.echo(f"{address} subscribed to {nct_id} ({how})")


@click.command()
@click.argument("email", required=False)
@click.argument("nct_ids", nargs=-1)
@click.option("--token", help="The token from an email's unsubscribe link.")
@pass_app
@reports_errors
def unsubscribe(app: App, email: str | None, nct_ids: tuple[str, ...], token: str | None) -> None:
    """Stop notifications: for some trials, for all of them, or by an email's token."""
    if (email is None) == (token is None):
        raise InputError("give either EMAIL [NCT…] or --token TOKEN")
    ids = parse_nct_ids(nct_ids) if nct_ids else None
    with app.store() as store:
        if token is not None:
            if ids:
                raise InputError("--token ends every subscription of its subscriber; drop the IDs")
            subscriber = store.subscriber(token=token)
            if subscriber is None:
                raise InputError("no subscriber has that token (already unsubscribed?)")
        else:
            subscriber = store.subscriber(email=_address(email or ""))
            if subscriber is None:
                raise InputError(f"{email} has no subscriptions")
        ended = store.unsubscribe(subscriber, ids)
    who = "the subscriber" if token is not None else subscriber.email
    click.echo(f"{who}: {ended} subscription(s) ended")


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
        run = queue_digests(store, settings, now(), force=force)
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
