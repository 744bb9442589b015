"""Subscribing from the web, with double opt-in: a request, its email, and its confirmation.

A request (`request_subscription`) stores nothing that sends change emails: it stores the
request and queues one email. An address that does not yet follow every trial asked for gets a
link to confirm; one that does gets a note with a link to manage what it follows. The caller
shows the same page either way, and when the address has had its `[web]
confirmations_per_day` it is sent nothing at all, again behind the same page: nobody learns from
the site whether an address is known. Every problem with the form (the address, an NCT ID, the
place, the distance) is found before anything is stored, and reported per field
(`FormProblems`).

A request can instead be for a saved search's new matches (`request_search`): the same limit,
the same two answers, the same page; its confirmation subscribes to the search
(`service/subscriptions.follow_search`: the search's welcome email).

`confirm` is the link: it marks the request used and subscribes (`service/subscriptions.subscribe`:
the welcome email and the feeds) in one transaction, once. A second use, an expired or an
unknown token is an outcome to show, never an exception.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from watcher.config import Settings
from watcher.core.addresses import validate_email
from watcher.core.change import DELIVERIES
from watcher.core.distance import Radius, parse_within
from watcher.core.gazetteer import resolve_near
from watcher.core.ids import parse_nct_id
from watcher.core.message import Outgoing, build_email, wire_bytes
from watcher.core.places import Near
from watcher.core.search import SavedSearch
from watcher.core.subscriptions import Subscriber, Subscription
from watcher.core.wording.confirmation import (
    CONFIRM_HOURS,
    RequestWords,
    confirm_words,
    known_words,
    search_confirm_words,
    search_known_words,
)
from watcher.core.wording.search import search_plan
from watcher.core.wording.subscription import welcome_plan
from watcher.data.gazetteer import load_gazetteer
from watcher.delivery.templates import render
from watcher.errors import InputError
from watcher.service.subscriptions import SubscribeResult, follow_search, subscribe
from watcher.store.confirmations import Pending
from watcher.store.database import Store

EXPIRY = timedelta(hours=CONFIRM_HOURS)
LIMIT_WINDOW = timedelta(days=1)  # what `[web] confirmations_per_day` counts over


class FormProblems(InputError):
    """What is wrong with a subscribe form, by field name ("address", "nct_id", "near",
    "within", "delivery"), each in words the person can act on."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"{field}: {text}" for field, text in self.problems.items()))


@dataclass(frozen=True, slots=True)
class Form:
    """A subscribe form, checked: the address, the trials and the options to store."""

    address: str
    nct_ids: tuple[str, ...]
    delivery: str
    near: Near | None


def check_form(
    store: Store,
    address: str,
    nct_ids: Sequence[str],
    *,
    delivery: str = "immediate",
    near: str = "",
    within: str = "",
) -> Form:
    """The form as typed → a `Form`, or `FormProblems` naming every field that is wrong.

    Only trials shown on this site (watched, with a stored version) can be asked for: a request
    never makes this trialwatch watch something new.
    """
    problems: dict[str, str] = {}
    try:
        address = validate_email(address)
    except ValueError as exc:
        problems["address"] = str(exc)
    ids: list[str] = []
    for text in nct_ids:
        try:
            nct_id = parse_nct_id(text)
        except InputError as exc:
            problems["nct_id"] = str(exc)
            continue
        row = store.trial(nct_id)
        if row is None or not row.watched or row.current_version is None:
            problems["nct_id"] = f"{nct_id} is not followed on this site"
        ids.append(nct_id)
    if not nct_ids:
        problems["nct_id"] = "choose a trial to follow"
    if delivery not in DELIVERIES:
        problems["delivery"] = f"choose one of {', '.join(DELIVERIES)}"
    place = None
    try:
        place = place_of(near, within)
    except FormProblems as exc:
        problems |= exc.problems
    if problems:
        raise FormProblems(problems)
    return Form(address, tuple(dict.fromkeys(ids)), delivery, place)


def place_of(near: str, within: str) -> Near | None:
    """The form's place and distance, resolved as `subscribe --near --within` resolves them
    (None when no place is typed), or `FormProblems` on the field that is wrong, in the
    form's words."""
    try:
        return resolve_near(near.strip() or None, within.strip() or None, load_gazetteer)
    except InputError as exc:
        text = str(exc)
        field = "within" if text.startswith("--within") else "near"
        words = text.replace("--near", "place").replace("--within", "distance")
        raise FormProblems({field: words}) from None


def radius_of(within: str) -> Radius:
    """The form's distance (empty: the default), or `FormProblems` on it."""
    try:
        return parse_within(within.strip() or None)
    except InputError as exc:
        raise FormProblems({"within": str(exc).replace("--within", "distance")}) from None


Requested = Literal["confirm", "known", "limited"]


def request_subscription(
    store: Store, settings: Settings, form: Form, now: datetime, *, site_url: str
) -> Requested:
    """Store the request and queue its one email (links under `site_url`); what was done is
    for tests and logs only: the page must say the same for all three."""
    titles = [(n, _title(store, n)) for n in form.nct_ids]
    plan = welcome_plan(Subscription(0, 0, "", delivery=form.delivery, near=form.near))

    def follows_all(person: Subscriber) -> bool:
        follows = {sub.nct_id for _, sub in store.subscriptions(subscriber_id=person.id)}
        return follows.issuperset(form.nct_ids)

    return _request(
        store,
        settings,
        form.address,
        now,
        site_url=site_url,
        known=follows_all,
        words=(confirm_words(form.nct_ids), known_words(form.nct_ids)),
        titles=titles,
        plan=plan,
        row=lambda token: store.add_confirmation(
            form.address, form.nct_ids, _options(form), now, now + EXPIRY, token=token
        ),
    )


def check_search_form(address: str) -> str:
    """The address typed on a search's page, checked, or `FormProblems` on it."""
    try:
        return validate_email(address)
    except ValueError as exc:
        raise FormProblems({"address": str(exc)}) from None


def request_search(
    store: Store,
    settings: Settings,
    address: str,
    search: SavedSearch,
    now: datetime,
    *,
    site_url: str,
) -> Requested:
    """`request_subscription` for a saved search's new matches: the same limit, the same two
    emails (here saying what the search asks for), the same page for every address."""

    def follows(person: Subscriber) -> bool:
        return any(s.id == search.id for s in store.searches_of(person.id))

    return _request(
        store,
        settings,
        address,
        now,
        site_url=site_url,
        known=follows,
        words=(
            search_confirm_words(search.name, search.describe()),
            search_known_words(search.name),
        ),
        titles=[],
        plan=search_plan(search.describe()),
        row=lambda token: store.add_confirmation(
            address, (), {}, now, now + EXPIRY, token=token, search_id=search.id
        ),
    )


def _request(
    store: Store,
    settings: Settings,
    address: str,
    now: datetime,
    *,
    site_url: str,
    known: Callable[[Subscriber], bool],
    words: tuple[RequestWords, RequestWords],
    titles: Sequence[tuple[str, str]],
    plan: Sequence[str],
    row: Callable[[str | None], int],
) -> Requested:
    """One request, in one transaction: nothing when the address has had its emails for the
    day; the "you already follow it" note when `known(person)`; else a new token (`row`
    stores the request with it) and the email with its link. `words` are (confirm, known)."""
    with store.atomic():
        store.forget_confirmations(now, LIMIT_WINDOW)
        if (
            store.confirmations_since(address, now - LIMIT_WINDOW)
            >= settings.web.confirmations_per_day
        ):
            return "limited"
        person = store.subscriber(email=address)
        if person is not None and known(person):
            number = row(None)
            url = f"{site_url}/manage/{quote(person.unsubscribe_token, safe='')}"
            message = _email(
                settings,
                address,
                words[1],
                titles,
                (),
                url,
                key=f"known/{number}",
                now=now,
                site_url=site_url,
                subscriber_id=person.id,
            )
            store.enqueue([message], now)
            return "known"
        token = secrets.token_urlsafe(32)
        number = row(token)
        message = _email(
            settings,
            address,
            words[0],
            titles,
            plan,
            f"{site_url}/confirm/{token}",
            key=f"confirm/{number}",
            now=now,
            site_url=site_url,
        )
        store.enqueue([message], now)
    return "confirm"


def _options(form: Form) -> dict[str, Any]:
    """The options as the request row keeps them (JSON), read back by `_near`."""
    options: dict[str, Any] = {"delivery": form.delivery}
    if form.near is not None:
        options["near"] = {
            "name": form.near.name,
            "point": list(form.near.point) if form.near.point else None,
            "within": [form.near.within.amount, form.near.within.unit],
        }
    return options


def _near(options: Mapping[str, Any]) -> Near | None:
    place = options.get("near")
    if place is None:
        return None
    point = tuple(place["point"]) if place["point"] else None
    amount, unit = place["within"]
    return Near(place["name"], (point[0], point[1]) if point else None, Radius(amount, unit))


def _title(store: Store, nct_id: str) -> str:
    row = store.trial(nct_id)
    return (row.brief_title if row else None) or ""


def _email(
    settings: Settings,
    address: str,
    words: RequestWords,
    titles: Sequence[tuple[str, str]],
    plan: Sequence[str],
    url: str,
    *,
    key: str,
    now: datetime,
    site_url: str,
    subscriber_id: int | None = None,
) -> Outgoing:
    """One answer to a request, text and HTML, with no List-Unsubscribe: it is not a list."""
    context = {
        "headline": words.subject,
        "lines": words.lines,
        "trials": [{"nct_id": n, "title": t} for n, t in titles],
        "plan": plan,
        "action": words.action,
        "url": url,
        "closing": words.closing,
        "reason": f"You get this email because this address was typed into the form at {site_url}.",
    }
    message = build_email(
        sender=settings.mail.sender,
        to=address,
        subject=words.subject,
        text=render("confirm.txt.j2", **context),
        html=render("confirm.html.j2", **context),
        key=key,
        date=now,
    )
    return Outgoing(key, "email", address, words.subject, wire_bytes(message), subscriber_id)


Outcome = Literal["confirmed", "used", "expired", "unknown", "gone"]


@dataclass(frozen=True, slots=True)
class Confirmation:
    """What opening a confirmation link did; `manage_token` opens the new subscriber's page."""

    outcome: Outcome
    manage_token: str | None = None
    result: SubscribeResult | None = None


def look_up(store: Store, token: str, now: datetime) -> tuple[Outcome | None, Pending | None]:
    """The request behind a confirmation link, and why it cannot be confirmed (None: it can)."""
    pending = store.confirmation(token)
    if pending is None:
        return "unknown", None
    if pending.used_at is not None:
        return "used", pending
    if datetime.fromisoformat(pending.expires_at) <= now:
        return "expired", pending
    return None, pending


def confirm(store: Store, settings: Settings, token: str, now: datetime) -> Confirmation:
    """Subscribe as the request asked, once: the request is marked used in the same
    transaction, so two clicks at once subscribe (and welcome) once."""
    refused, pending = look_up(store, token, now)
    if refused is not None or pending is None:
        return Confirmation(refused or "unknown")
    if pending.search_id is not None:
        return _confirm_search(store, settings, pending, now)
    with store.atomic():
        if not store.use_confirmation(pending.id, now):
            return Confirmation("used")
        still = [n for n in pending.nct_ids if (row := store.trial(n)) and row.watched]
        if not still:
            return Confirmation("gone")
        result = subscribe(
            store,
            settings,
            pending.email,
            still,
            now,
            delivery=pending.options["delivery"],
            near=_near(pending.options),
        )
        person = store.subscriber(email=pending.email)
        assert person is not None  # subscribed just above, in this transaction
    return Confirmation("confirmed", person.unsubscribe_token, result)


def _confirm_search(
    store: Store, settings: Settings, pending: Pending, now: datetime
) -> Confirmation:
    """`confirm` for a saved search: the search's subscription and its welcome, once."""
    with store.atomic():
        if not store.use_confirmation(pending.id, now):
            return Confirmation("used")
        search = store.search_by_id(pending.search_id or 0)
        if search is None:
            return Confirmation("gone")
        person, _ = follow_search(store, settings, pending.email, search.name, now)
    return Confirmation("confirmed", person.unsubscribe_token)


def search_of(store: Store, pending: Pending) -> SavedSearch | None:
    """The saved search a request is for (None: a request for trials, or a search since
    removed)."""
    return None if pending.search_id is None else store.search_by_id(pending.search_id)
