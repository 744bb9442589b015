"""Subscribers, their subscriptions and their waiting digest items.

Tokens are found by their SHA-256 (`token_hash`) and compared with `hmac.compare_digest`, so a
lookup never compares a guess with a secret. Ending a subscription cancels the messages still
queued for it, in the same transaction (hence the outbox beneath).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime

from watcher.core.change import StoredChange
from watcher.core.distance import Radius
from watcher.core.message import Outgoing
from watcher.core.places import Near
from watcher.core.subscriptions import Subscriber, Subscription
from watcher.errors import StoreError
from watcher.store.outbox import OutboxTables
from watcher.store.rows import iso, stored_change, token_hash


class SubscriberTables(OutboxTables):
    """Reading and writing subscribers, subscriptions and digest items."""

    # -- subscribers and subscriptions ------------------------------------------------------------

    def subscribe(
        self,
        email: str,
        nct_ids: Sequence[str],
        now: datetime,
        *,
        audience: str = "patient",
        delivery: str = "immediate",
        kinds: frozenset[str] | None = None,
        near: Near | None = None,
    ) -> Subscriber:
        """Create or update `email`'s subscriptions to these (watched) trials."""
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
            for nct_id in nct_ids:
                db.table("subscriptions").upsert(
                    {
                        "subscriber_id": subscriber.id,
                        "nct_id": nct_id,
                        "audience": audience,
                        "delivery": delivery,
                        "kinds": ",".join(sorted(kinds)) if kinds is not None else None,
                        "near": near.name if near else None,
                        "near_lat": near.point[0] if near and near.point else None,
                        "near_lon": near.point[1] if near and near.point else None,
                        "within_amount": near.within.amount if near else None,
                        "within_unit": near.within.unit if near else None,
                        "created_at": iso(now),
                    },
                    pk=("subscriber_id", "nct_id"),
                )
        return subscriber

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

    def subscriber(
        self, *, email: str | None = None, token: str | None = None
    ) -> Subscriber | None:
        """Find a subscriber by address or by unsubscribe token.

        A token is looked up by its hash, and the stored token is then compared in constant
        time: neither the index walk nor the comparison tells a guesser how close they came.
        """
        row = self.db.execute(
            """SELECT id, email, unsubscribe_token, feed_token FROM subscribers
               WHERE email = ? OR unsubscribe_hash = ?""",
            [email, None if token is None else token_hash(token)],
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
        return [
            (
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
            for r in rows
        ]

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


def _near(
    name: str | None, lat: float | None, lon: float | None, amount: float | None, unit: str | None
) -> Near | None:
    """A subscription's place as stored; one stored before places were resolved has only its
    name (and is matched by name, `watcher.core.places`)."""
    if name is None:
        return None
    point = (lat, lon) if lat is not None and lon is not None else None
    return Near(name, point, Radius(amount, unit or "km")) if amount else Near(name, point)
