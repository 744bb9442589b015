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
# Welcome emails queued a batch at a time: each carries the whole trial (30 KB on average),
# and 15,000 held at once were 440 MB of a subscribers file's peak memory.
WELCOMES_AT_ONCE = 500


@dataclass(frozen=True, slots=True)
class Wanted:
    """One person's subscription request: a `subscribe` command, or a line of a subscribers
    file (`where` names it in errors: "subscribers.csv line 7"). Options left None keep what
    an existing subscription has, or take the default."""

    address: str
    nct_ids: tuple[str, ...]
    audience: str | None = None
    delivery: str | None = None
    kinds: frozenset[str] | None = None
    near: Near | None = None
    where: str = ""


@dataclass(frozen=True, slots=True)
class SubscriptionOutcome:
    """One trial of a `subscribe`: the subscription before (None: it is new) and after."""

    before: Subscription | None
    after: Subscription


@dataclass(frozen=True, slots=True)
class Subscribed:
    """What a `subscribe` did: who (found or created) and, per trial, before and after.
    `created`: the subscriber is new, so no file named by their feed token exists yet."""

    subscriber: Subscriber
    outcomes: tuple[SubscriptionOutcome, ...]
    created: bool


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
        wanted = Wanted(email, tuple(nct_ids), audience, delivery, kinds, near)
        with self.atomic():
            (done,) = self.subscribe_many([wanted], now)
            if welcome is not None:
                self.queue_welcomes([done], welcome, now)
        return done

    def subscribe_many(self, requests: Sequence[Wanted], now: datetime) -> list[Subscribed]:
        """`subscribe` for each request in turn, all in one transaction, in a few statements
        whatever their number (a subscribers file of 10,000 lines): the people, their
        subscriptions and the trials are read at once, and written with `executemany`.
        Their welcomes are `queue_welcomes`' (in the caller's transaction, which may do
        something else between the two: `subscribe --file` starts writing the new
        subscribers' private feeds)."""
        with self.atomic() as db:
            nct_ids = list(dict.fromkeys(n for r in requests for n in r.nct_ids))
            watched = {
                row[0]
                for row in db.execute(
                    """SELECT nct_id FROM trials WHERE watched
                       AND nct_id IN (SELECT value FROM json_each(?))""",
                    [json.dumps(nct_ids)],
                )
            }
            not_watched = [n for n in nct_ids if n not in watched]
            if not_watched:
                raise StoreError(
                    f"not watched: {', '.join(not_watched)}; add them first with "
                    f"`trialwatch watch add {' '.join(not_watched)}`"
                )
            people, newcomers = self._people([r.address for r in requests], now)
            held = self._subscriptions_of([p.id for p in people.values()])
            rows: list[tuple[object, ...]] = []  # the subscriptions created, inserted at once
            updates: list[tuple[int, dict[str, str | float | None]]] = []
            # Ids given here, as SQLite would give them (the largest plus one; the transaction
            # keeps other writers out), so that all the rows go in one `executemany`.
            (last,) = db.execute("SELECT coalesce(max(id), 0) FROM subscriptions").fetchone()
            asked: list[tuple[Subscriber, list[tuple[str, Subscription | None]]]] = []
            stamp = iso(now)
            for request in requests:
                person = people[address_key(request.address)]
                values = _values(request)
                columns = _columns(values, stamp)
                befores: list[tuple[str, Subscription | None]] = []
                for nct_id in dict.fromkeys(request.nct_ids):  # an ID named twice is one
                    before = held.get((person.id, nct_id))
                    if before is None:
                        created = last + 1 + len(rows)
                        rows.append((created, person.id, nct_id, *columns))
                        fresh = Subscription(created, person.id, nct_id)  # the defaults
                        held[person.id, nct_id] = _updated(fresh, request)
                    elif values:
                        updates.append((before.id, values))
                        held[person.id, nct_id] = _updated(before, request)
                    befores.append((nct_id, before))
                asked.append((person, befores))
            db.conn.executemany(_INSERT, rows)
            for subscription_id, values in updates:  # after: one may be a row just inserted
                db.table("subscriptions").update(subscription_id, values)
            stored = self._subscriptions_of([p.id for p in people.values()])  # as read back
            return [
                Subscribed(
                    person,
                    tuple(SubscriptionOutcome(b, stored[person.id, n]) for n, b in befores),
                    person.id in newcomers,
                )
                for person, befores in asked
            ]

    def queue_welcomes(self, done: Sequence[Subscribed], welcome: Welcome, now: datetime) -> None:
        """Queue `welcome`'s message for each subscription `subscribe_many` created, in the
        order it created them (each from the row as stored after every request)."""
        new = [
            (subscribed.subscriber, outcome.after)
            for subscribed in done
            for outcome in subscribed.outcomes
            if outcome.before is None
        ]
        with self.atomic():
            for start in range(0, len(new), WELCOMES_AT_ONCE):  # not all held at once
                messages = [welcome(*n) for n in new[start : start + WELCOMES_AT_ONCE]]
                self._enqueue([m for m in messages if m is not None], now)

    def _people(
        self, addresses: Sequence[str], now: datetime
    ) -> tuple[dict[str, Subscriber], set[int]]:
        """Each address's subscriber by `address_key`, created (with fresh tokens) when new;
        and the ids of those created."""
        keys = list(dict.fromkeys(address_key(a) for a in addresses))
        query = """SELECT id, email, unsubscribe_token, feed_token FROM subscribers
                   WHERE lower(email) IN (SELECT value FROM json_each(?)) ORDER BY id"""
        found: dict[str, Subscriber] = {}
        for row in self.db.execute(query, [json.dumps(keys)]):
            found.setdefault(address_key(row[1]), Subscriber(*row))
        typed = {address_key(a): a for a in reversed(addresses)}  # as first typed
        # Ids given here, as SQLite would give them (see `subscribe_many`), so that the new
        # people need not be read back.
        (last,) = self.db.execute("SELECT coalesce(max(id), 0) FROM subscribers").fetchone()
        new = [
            Subscriber(
                last + 1 + number, typed[key], secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            )
            for number, key in enumerate(k for k in keys if k not in found)
        ]
        stamp = iso(now)
        self.db.conn.executemany(
            """INSERT INTO subscribers (id, email, unsubscribe_token, feed_token,
                                        unsubscribe_hash, feed_hash, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            [
                (
                    p.id,
                    p.email,
                    p.unsubscribe_token,
                    p.feed_token,
                    token_hash(p.unsubscribe_token),
                    token_hash(p.feed_token),
                    stamp,
                )
                for p in new
            ],
        )
        found |= {address_key(p.email): p for p in new}
        return found, {p.id for p in new}

    def _subscriptions_of(
        self, subscriber_ids: Sequence[int]
    ) -> dict[tuple[int, str], Subscription]:
        """The subscriptions these subscribers have, by (subscriber, trial)."""
        rows = self.db.execute(_SUBSCRIPTIONS, [None, json.dumps(list(subscriber_ids))])
        return {(sub.subscriber_id, sub.nct_id): sub for _, sub in map(_subscription, rows)}

    def _person(self, email: str, now: datetime) -> Subscriber:
        """The subscriber with this address, created (with fresh tokens) when there is none;
        called inside the caller's transaction."""
        return self._people([email], now)[0][address_key(email)]

    def unsubscribe(self, subscriber: Subscriber, nct_ids: Sequence[str] | None = None) -> int:
        """End some (or all) of a subscriber's subscriptions; returns how many ended.

        When none is left, the subscriber is forgotten: the row goes, and their address is
        scrubbed from the outbox (queued messages to them are cancelled, not sent; a drain that
        has already claimed one finds it cancelled when it renews its claim, and skips it).
        """
        with self.atomic() as db:
            if nct_ids is None:  # everything: their saved searches' notices too
                ended = db.execute(
                    "DELETE FROM subscriptions WHERE subscriber_id = ?", [subscriber.id]
                ).rowcount
                db.execute(
                    "DELETE FROM search_subscriptions WHERE subscriber_id = ?", [subscriber.id]
                )
            else:
                ended = sum(
                    db.execute(
                        "DELETE FROM subscriptions WHERE subscriber_id = ? AND nct_id = ?",
                        [subscriber.id, nct_id],
                    ).rowcount
                    for nct_id in nct_ids
                )
            self._forget_if_done(subscriber)
        return int(ended)

    def _forget_if_done(self, subscriber: Subscriber) -> None:
        """Forget a subscriber left with no subscription, to a trial or a search (see
        `unsubscribe`); called inside the caller's transaction."""
        db = self.db
        left = db.execute(
            """SELECT (SELECT COUNT(*) FROM subscriptions WHERE subscriber_id = ?)
                    + (SELECT COUNT(*) FROM search_subscriptions WHERE subscriber_id = ?)""",
            [subscriber.id, subscriber.id],
        ).fetchone()[0]
        if not left:
            self._scrub_outbox(subscriber.id)
            db.execute("DELETE FROM subscribers WHERE id = ?", [subscriber.id])

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
                   AND NOT EXISTS (SELECT 1 FROM subscriptions WHERE subscriber_id = ?)
                   AND NOT EXISTS (SELECT 1 FROM search_subscriptions WHERE subscriber_id = ?)""",
                [(person, person, person) for person in people],
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
        people = None if subscriber_id is None else json.dumps([subscriber_id])
        return [_subscription(r) for r in self.db.execute(_SUBSCRIPTIONS, [nct_id, people])]

    def followed_by(self, subscriber_ids: Sequence[int]) -> list[tuple[Subscriber, Subscription]]:
        """Every subscription of these subscribers, with the subscriber."""
        return [
            _subscription(r)
            for r in self.db.execute(_SUBSCRIPTIONS, [None, json.dumps(list(subscriber_ids))])
        ]

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
        return [_subscription(r) for r in rows]

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


# Subscriptions with their subscriber, of one trial (?1) and/or some subscribers (?2, a JSON
# list of their ids); either None for all.
_SUBSCRIPTIONS = """
    SELECT s.id, s.email, s.unsubscribe_token, s.feed_token,
           p.id, p.subscriber_id, p.nct_id, p.audience, p.delivery, p.kinds, p.near,
           p.near_lat, p.near_lon, p.within_amount, p.within_unit
    FROM subscriptions p JOIN subscribers s ON s.id = p.subscriber_id
    WHERE (?1 IS NULL OR p.nct_id = ?1)
      AND (?2 IS NULL OR p.subscriber_id IN (SELECT value FROM json_each(?2)))
    ORDER BY s.email, p.nct_id"""
# A new subscription's options when a request gives none.
DEFAULT = Subscription(id=0, subscriber_id=0, nct_id="")
_INSERT = """INSERT INTO subscriptions (id, subscriber_id, nct_id, audience, delivery, kinds,
                                       near, near_lat, near_lon, within_amount, within_unit,
                                       created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""


def _columns(values: dict[str, str | float | None], stamp: str) -> tuple[object, ...]:
    """A new subscription's row for `_INSERT` after its ids and trial, with the defaults where
    `values` gives nothing (the same for every trial of a request)."""
    return (
        values.get("audience", DEFAULT.audience),
        values.get("delivery", DEFAULT.delivery),
        *(values.get(k) for k in ("kinds", "near", "near_lat", "near_lon")),
        *(values.get(k) for k in ("within_amount", "within_unit")),
        stamp,
    )


def _subscription(r: Sequence[Any]) -> tuple[Subscriber, Subscription]:
    """A row of `_SUBSCRIPTIONS`: the subscriber and the subscription."""
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


def _values(request: Wanted) -> dict[str, str | float | None]:
    """The columns a request sets: only the options it gives (a place stored resolved)."""
    given = {"audience": request.audience, "delivery": request.delivery}
    values: dict[str, str | float | None] = {k: v for k, v in given.items() if v is not None}
    if request.kinds is not None:
        values["kinds"] = ",".join(sorted(request.kinds))
    if request.near is not None:
        near = request.near
        values |= {
            "near": near.name,
            "near_lat": near.point[0] if near.point else None,
            "near_lon": near.point[1] if near.point else None,
            "within_amount": near.within.amount,
            "within_unit": near.within.unit,
        }
    return values


def _updated(before: Subscription, request: Wanted) -> Subscription:
    """`before` with the options the request gives (made whole: `dataclasses.replace` costs
    ten times as much, a tenth of a second for a subscribers file's 15,000)."""
    return Subscription(
        before.id,
        before.subscriber_id,
        before.nct_id,
        audience=request.audience or before.audience,
        delivery=request.delivery or before.delivery,
        kinds=before.kinds if request.kinds is None else request.kinds,
        near=before.near if request.near is None else request.near,
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
