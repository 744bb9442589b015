"""Subscribers, their subscriptions and their waiting digest items.

Tokens are found by their SHA-256 (`token_hash`) and compared with `hmac.compare_digest`, so a
lookup never compares a guess with a secret. Ending a subscription cancels the messages still
queued for it, in the same transaction (hence the outbox beneath).
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watcher.core.addresses import address_key
from watcher.core.change import StoredChange
from watcher.core.distance import Radius
from watcher.core.message import Outgoing
from watcher.core.places import Near
from watcher.core.subscriptions import Subscriber, Subscription
from watcher.errors import StoreError
from watcher.store.outbox import OutboxTables
from watcher.store.rows import iso, stored_change, token_hash

# The message a new subscription starts with (`watcher.core.notify.welcome_email`), or None.
Welcome = Callable[[Subscriber, Subscription], Outgoing | None]


@dataclass(frozen=True, slots=True)
class SubscriptionOutcome:
    """One trial of a `subscribe`: the subscription before (None: it is new) and after."""

    before: Subscription | None
    after: Subscription


@dataclass(frozen=True, slots=True)
class Subscribed:
    """What a `subscribe` did: who (found or created) and, per trial, before and after."""

    subscriber: Subscriber
    outcomes: tuple[SubscriptionOutcome, ...]


class SubscriberTables(OutboxTables):
    """Reading and writing subscribers, subscriptions and digest items."""

    # -- subscribers and subscriptions ------------------------------------------------------------

    def subscribe(
        self,
        email: str,
        nct_ids: Sequence[str],
        now: datetime,
        *,
        audience: str | None = None,
        delivery: str | None = None,
        kinds: frozenset[str] | None = None,
        near: Near | None = None,
        welcome: Welcome | None = None,
    ) -> Subscribed:
        """Create `email`'s subscriptions to these (watched) trials, or update them.

        An option left as None is not given: a new subscription takes the default, an existing
        one keeps what it had (re-running `subscribe … --digest weekly` keeps the `--near`).
        The subscriber is found case-insensitively (`address_key`) and stored as first typed.
        `welcome` makes the message for each new subscription; it is queued in this transaction.
        """
        given = {"audience": audience, "delivery": delivery}
        values: dict[str, str | float | None] = {k: v for k, v in given.items() if v is not None}
        if kinds is not None:
            values["kinds"] = ",".join(sorted(kinds))
        if near is not None:  # a place is stored resolved, with its radius
            values |= {
                "near": near.name,
                "near_lat": near.point[0] if near.point else None,
                "near_lon": near.point[1] if near.point else None,
                "within_amount": near.within.amount,
                "within_unit": near.within.unit,
            }
        nct_ids = list(dict.fromkeys(nct_ids))  # an ID named twice is one subscription
        with self.atomic() as db:
            not_watched = [n for n in nct_ids if not (t := self._trial_dict(n)) or not t["watched"]]
            if not_watched:
                raise StoreError(
                    f"not watched: {', '.join(not_watched)}; add them first with "
                    f"`trialwatch watch add {' '.join(not_watched)}`"
                )
            subscriber = self.subscriber(email=email)
            if subscriber is None:
                unsubscribe_token = secrets.token_urlsafe(32)
                feed_token = secrets.token_urlsafe(32)
                db.table("subscribers").insert(
                    {
                        "email": email,
                        "unsubscribe_token": unsubscribe_token,
                        "feed_token": feed_token,
                        "unsubscribe_hash": token_hash(unsubscribe_token),
                        "feed_hash": token_hash(feed_token),
                        "created_at": iso(now),
                    }
                )
                subscriber = self.subscriber(email=email)
                assert subscriber is not None  # inserted just above, in this transaction
            had = {sub.nct_id: sub for _, sub in self.subscriptions(subscriber_id=subscriber.id)}
            for nct_id in nct_ids:
                if nct_id in had:
                    if values:
                        db.table("subscriptions").update(had[nct_id].id, values)
                    continue
                fresh = Subscription(id=0, subscriber_id=subscriber.id, nct_id=nct_id)
                db.table("subscriptions").insert(
                    {
                        "subscriber_id": subscriber.id,
                        "nct_id": nct_id,
                        "audience": fresh.audience,  # the defaults, unless given
                        "delivery": fresh.delivery,
                        **values,
                        "created_at": iso(now),
                    }
                )
            now_has = {
                sub.nct_id: sub for _, sub in self.subscriptions(subscriber_id=subscriber.id)
            }
            outcomes = tuple(
                SubscriptionOutcome(had.get(nct_id), now_has[nct_id]) for nct_id in nct_ids
            )
            if welcome is not None:
                messages = [welcome(subscriber, o.after) for o in outcomes if o.before is None]
                self._enqueue([m for m in messages if m is not None], now)
        return Subscribed(subscriber, outcomes)

    def unsubscribe(self, subscriber: Subscriber, nct_ids: Sequence[str] | None = None) -> int:
        """End some (or all) of a subscriber's subscriptions; returns how many ended.

        When none is left, the subscriber is forgotten: the row goes, and their address is
        scrubbed from the outbox (queued messages to them are cancelled, not sent; a drain that
        has already claimed one finds it cancelled when it renews its claim, and skips it).
        """
        with self.atomic() as db:
            if nct_ids is None:
                ended = db.execute(
                    "DELETE FROM subscriptions WHERE subscriber_id = ?", [subscriber.id]
                ).rowcount
            else:
                ended = sum(
                    db.execute(
                        "DELETE FROM subscriptions WHERE subscriber_id = ? AND nct_id = ?",
                        [subscriber.id, nct_id],
                    ).rowcount
                    for nct_id in nct_ids
                )
            left = db.execute(
                "SELECT COUNT(*) FROM subscriptions WHERE subscriber_id = ?", [subscriber.id]
            ).fetchone()[0]
            if not left:
                db.execute(
                    """UPDATE outbox SET status = CASE status WHEN 'pending' THEN 'cancelled'
                       ELSE status END, recipient = '(unsubscribed)', body = X'',
                       subscriber_id = NULL WHERE subscriber_id = ?""",
                    [subscriber.id],
                )
                db.execute("DELETE FROM subscribers WHERE id = ?", [subscriber.id])
        return int(ended)

    def end_subscriptions(self, nct_ids: Sequence[str]) -> int:
        """End every subscription to these trials (they are no longer watched); returns how many.

        A subscriber left with none is forgotten, as after an unsubscribe, except that what is
        queued for them stays queued: the message telling them why is among it.
        """
        with self.atomic() as db:
            people = [
                r[0]
                for r in db.execute(
                    "SELECT DISTINCT subscriber_id FROM subscriptions"
                    " WHERE nct_id IN (SELECT value FROM json_each(?))",
                    [json.dumps(list(nct_ids))],
                )
            ]
            ended = db.execute(
                "DELETE FROM subscriptions WHERE nct_id IN (SELECT value FROM json_each(?))",
                [json.dumps(list(nct_ids))],
            ).rowcount
            db.conn.executemany(
                """DELETE FROM subscribers WHERE id = ?
                   AND NOT EXISTS (SELECT 1 FROM subscriptions WHERE subscriber_id = ?)""",
                [(person, person) for person in people],
            )
        return int(ended)

    def subscriber(
        self, *, email: str | None = None, token: str | None = None
    ) -> Subscriber | None:
        """Find a subscriber by address (`address_key`: capitals do not matter) or by
        unsubscribe token.

        A token is looked up by its hash, and the stored token is then compared in constant
        time: neither the index walk nor the comparison tells a guesser how close they came.
        """
        row = self.db.execute(
            """SELECT id, email, unsubscribe_token, feed_token FROM subscribers
               WHERE lower(email) = ? OR unsubscribe_hash = ? ORDER BY id LIMIT 1""",
            [
                None if email is None else address_key(email),
                None if token is None else token_hash(token),
            ],
        ).fetchone()
        if row is None:
            return None
        person = Subscriber(*row)
        if token is not None and not hmac.compare_digest(
            person.unsubscribe_token.encode("utf-8"), token.encode("utf-8")
        ):
            return None
        return person

    def subscriptions(
        self, *, nct_id: str | None = None, subscriber_id: int | None = None
    ) -> list[tuple[Subscriber, Subscription]]:
        """Subscriptions with their subscriber, filtered by trial and/or subscriber."""
        rows = self.db.execute(
            """SELECT s.id, s.email, s.unsubscribe_token, s.feed_token,
                      p.id, p.subscriber_id, p.nct_id, p.audience, p.delivery, p.kinds, p.near,
                      p.near_lat, p.near_lon, p.within_amount, p.within_unit
               FROM subscriptions p JOIN subscribers s ON s.id = p.subscriber_id
               WHERE (p.nct_id = ? OR ? IS NULL) AND (p.subscriber_id = ? OR ? IS NULL)
               ORDER BY s.email, p.nct_id""",
            [nct_id, nct_id, subscriber_id, subscriber_id],
        ).fetchall()
        return [_subscription_pair(r) for r in rows]

    def followers_subscriptions(
        self, nct_ids: Sequence[str]
    ) -> list[tuple[Subscriber, Subscription]]:
        """Every subscription of each subscriber who follows one of `nct_ids` (the private feeds
        a change to those trials touches), found through the indexes, in subscriber order."""
        rows = self.db.execute(
            """SELECT s.id, s.email, s.unsubscribe_token, s.feed_token,
                      p.id, p.subscriber_id, p.nct_id, p.audience, p.delivery, p.kinds, p.near,
                      p.near_lat, p.near_lon, p.within_amount, p.within_unit
               FROM subscriptions p JOIN subscribers s ON s.id = p.subscriber_id
               WHERE p.subscriber_id IN (SELECT subscriber_id FROM subscriptions
                                         WHERE nct_id IN (SELECT value FROM json_each(?)))
               ORDER BY p.subscriber_id, p.nct_id""",
            [json.dumps(list(nct_ids))],
        ).fetchall()
        return [_subscription_pair(r) for r in rows]

    # -- digests ----------------------------------------------------------------------------------

    def pending_digests(
        self, delivery: str
    ) -> list[tuple[Subscriber, list[tuple[Subscription, StoredChange]]]]:
        """Changes waiting for each subscriber's daily or weekly digest, oldest first."""
        waiting = self.db.execute(
            """SELECT d.subscription_id, d.change_id FROM digest_items d
               JOIN subscriptions p ON p.id = d.subscription_id
               WHERE p.delivery = ? ORDER BY d.change_id""",
            [delivery],
        ).fetchall()
        if not waiting:
            return []
        subscriptions = {sub.id: (person, sub) for person, sub in self.subscriptions()}
        by_person: dict[int, tuple[Subscriber, list[tuple[Subscription, StoredChange]]]] = {}
        for subscription_id, change_id in waiting:
            person, sub = subscriptions[subscription_id]
            (row,) = self.db.query("SELECT * FROM changes WHERE id = ?", [change_id])
            by_person.setdefault(person.id, (person, []))[1].append((sub, stored_change(row)))
        return list(by_person.values())

    def save_digest(
        self,
        message: Outgoing | None,
        items: Sequence[tuple[Subscription, StoredChange]],
        now: datetime,
    ) -> None:
        """Queue a digest and consume the changes it carries, in one transaction.

        `message` is None when nothing in `items` matters to the reader: they are consumed all
        the same, so they do not wait forever.
        """
        with self.atomic() as db:
            if message is not None:
                self._enqueue([message], now)
            db.conn.executemany(
                "DELETE FROM digest_items WHERE subscription_id = ? AND change_id = ?",
                [(sub.id, change.id) for sub, change in items],
            )


def _subscription_pair(r: Sequence[Any]) -> tuple[Subscriber, Subscription]:
    """A subscriber and one subscription from a row of the `subscriptions` queries."""
    return (
        Subscriber(*r[:4]),
        Subscription(
            id=r[4],
            subscriber_id=r[5],
            nct_id=r[6],
            audience=r[7],
            delivery=r[8],
            kinds=frozenset(r[9].split(",")) if r[9] is not None else None,
            near=_near(*r[10:]),
        ),
    )


def _near(
    name: str | None, lat: float | None, lon: float | None, amount: float | None, unit: str | None
) -> Near | None:
    """A subscription's place as stored; one stored before places were resolved has only its
    name (and is matched by name, `watcher.core.places`)."""
    if name is None:
        return None
    point = (lat, lon) if lat is not None and lon is not None else None
    return Near(name, point, Radius(amount, unit or "km")) if amount else Near(name, point)
