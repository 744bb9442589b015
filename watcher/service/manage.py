"""A subscriber's own page: what they follow, changing or ending each, and leaving.

Everything here is reached by the subscriber's unsubscribe token (the one in every email they
get), looked up by its hash and compared in constant time by the store: whoever holds it can
already end every subscription with it, so it is also what lets them change one. The store's
own methods do the work (`subscribe` with only the options given, `unsubscribe`,
`unsubscribe_search`), each in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from watcher.core.change import DELIVERIES
from watcher.core.places import Near
from watcher.core.search import SavedSearch
from watcher.core.subscriptions import Subscriber, Subscription
from watcher.service.confirmations import FormProblems, place_of, radius_of
from watcher.store.database import Store


@dataclass(frozen=True, slots=True)
class Followed:
    """One subscription as the page shows it."""

    subscription: Subscription
    title: str


@dataclass(frozen=True, slots=True)
class Account:
    """The subscriber behind a token, what they follow (trial order) and the saved searches
    they hear of (by name)."""

    subscriber: Subscriber
    follows: tuple[Followed, ...]
    searches: tuple[SavedSearch, ...] = ()


def account(store: Store, token: str) -> Account | None:
    """The subscriber this token belongs to, or None (unknown, or unsubscribed since)."""
    person = store.subscriber(token=token)
    if person is None:
        return None
    follows = tuple(
        Followed(sub, (row.brief_title if (row := store.trial(sub.nct_id)) else None) or "")
        for _, sub in store.subscriptions(subscriber_id=person.id)
    )
    return Account(person, follows, tuple(store.searches_of(person.id)))


def end_search(store: Store, person: Subscriber, name: str) -> bool:
    """Stop `person`'s emails about the saved search `name`; False when they had none."""
    search = store.search(name)
    return search is not None and store.unsubscribe_search(person, search.id)


def change(
    store: Store,
    person: Subscriber,
    nct_id: str,
    now: datetime,
    *,
    delivery: str,
    near: str = "",
    within: str = "",
) -> None:
    """Change how `person` hears about one trial they follow: how often, where they are (an
    empty place keeps the one they had) and how far they travel from it."""
    if delivery not in DELIVERIES:
        raise FormProblems({"delivery": f"choose one of {', '.join(DELIVERIES)}"})
    had = {sub.nct_id: sub for _, sub in store.subscriptions(subscriber_id=person.id)}
    if nct_id not in had:
        raise FormProblems({"nct_id": f"you do not follow {nct_id}"})
    kept = had[nct_id].near
    place: Near | None
    if not near.strip() and kept is not None and kept.point is not None:
        place = replace(kept, within=radius_of(within))  # the place they had, a new distance
    else:
        place = place_of(near, within)
    store.subscribe(person.email, [nct_id], now, delivery=delivery, near=place)
