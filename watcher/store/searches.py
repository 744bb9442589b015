"""Saved searches, the trials each has matched, and who hears of new matches.

A match is kept once per search (`search_matches`' key): a trial that leaves a search's answer
(its status moved) and comes back is not news twice. A run's matches, the data release it ran
against and its messages are written in one transaction (`save_search_run`), so a run stopped
half-way is run again whole, and a run finished is never run again in the same release.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watcher.core.distance import Radius
from watcher.core.message import Outgoing
from watcher.core.places import Near
from watcher.core.search import SavedSearch
from watcher.core.subscriptions import Subscriber
from watcher.errors import InputError
from watcher.store.rows import iso
from watcher.store.subscribers import SubscriberTables


@dataclass(frozen=True, slots=True)
class Match:
    """A trial a search has matched: when it was found, and whether in the first run."""

    nct_id: str
    found_at: str
    baseline: bool


class SearchTables(SubscriberTables):
    """Reading and writing saved searches, their matches and their subscribers."""

    def add_search(self, search: SavedSearch, now: datetime) -> SavedSearch:
        """Save a new search; a name already taken is an `InputError` (nothing is replaced)."""
        near = search.near
        with self.atomic() as db:
            if self.search(search.name) is not None:
                raise InputError(
                    f"NAME {search.name!r}: a search of that name exists; remove it first "
                    f"(`trialwatch search remove {search.name}`) or choose another name"
                )
            db.table("searches").insert(
                {
                    "name": search.name,
                    "condition": search.condition,
                    "term": search.term,
                    "sponsor": search.sponsor,
                    "statuses": ",".join(search.statuses),
                    "phases": ",".join(search.phases),
                    "near": near.name if near else None,
                    "near_lat": near.point[0] if near and near.point else None,
                    "near_lon": near.point[1] if near and near.point else None,
                    "within_amount": near.within.amount if near else None,
                    "within_unit": near.within.unit if near else None,
                    "watch_matches": int(search.watch_matches),
                    "notify_existing": int(search.notify_existing),
                    "updated_too": int(search.updated_too),
                    "created_at": iso(now),
                }
            )
        saved = self.search(search.name)
        assert saved is not None  # inserted just above
        return saved

    def search(self, name: str) -> SavedSearch | None:
        """The saved search of this name (names compare exactly), or None."""
        rows = list(self.db.query("SELECT * FROM searches WHERE name = ?", [name]))
        return _saved(rows[0]) if rows else None

    def searches(self) -> list[SavedSearch]:
        """Every saved search, by name."""
        return [_saved(row) for row in self.db.query("SELECT * FROM searches ORDER BY name")]

    def remove_search(self, name: str) -> bool:
        """Forget a search, its matches and its subscriptions (the trials it watched stay
        watched); False when there was none. A subscriber left with nothing is forgotten."""
        with self.atomic() as db:
            people = [
                r[0]
                for r in db.execute(
                    """SELECT subscriber_id FROM search_subscriptions
                       WHERE search_id = (SELECT id FROM searches WHERE name = ?)""",
                    [name],
                )
            ]
            removed = db.execute("DELETE FROM searches WHERE name = ?", [name]).rowcount
            db.conn.executemany(
                """DELETE FROM subscribers WHERE id = ?
                   AND NOT EXISTS (SELECT 1 FROM subscriptions WHERE subscriber_id = ?)
                   AND NOT EXISTS (SELECT 1 FROM search_subscriptions WHERE subscriber_id = ?)""",
                [(person, person, person) for person in people],
            )
        return bool(removed)

    def search_matches(self, search_id: int) -> dict[str, bool]:
        """The trials a search has matched so far, each with whether it was in the baseline."""
        rows = self.db.execute(
            "SELECT nct_id, baseline FROM search_matches WHERE search_id = ? ORDER BY nct_id",
            [search_id],
        ).fetchall()
        return {nct_id: bool(baseline) for nct_id, baseline in rows}

    def save_search_run(
        self,
        search: SavedSearch,
        release: str,
        now: datetime,
        *,
        new: Sequence[str],
        baseline: bool,
        messages: Sequence[Outgoing] = (),
    ) -> None:
        """Record one run: its new matches, the release it ran against and the messages it
        causes, in one transaction (a caller's, when it is inside one: `--watch-matches` adds
        the watches and subscriptions in the same)."""
        with self.atomic() as db:
            db.conn.executemany(
                """INSERT INTO search_matches (search_id, nct_id, release, found_at, baseline)
                   VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
                [(search.id, nct_id, release, iso(now), int(baseline)) for nct_id in new],
            )
            db.execute(
                "UPDATE searches SET last_release = ?, last_run_at = ? WHERE id = ?",
                [release, iso(now), search.id],
            )
            self._enqueue(messages, now)

    def subscribe_search(self, email: str, name: str, now: datetime) -> tuple[Subscriber, bool]:
        """`email` hears of the new matches of the search `name`; True when that is new."""
        with self.atomic() as db:
            search = self.search(name)
            if search is None:
                raise unknown_search(name, [s.name for s in self.searches()])
            person = self._person(email, now)
            added = db.execute(
                """INSERT INTO search_subscriptions (search_id, subscriber_id, created_at)
                   VALUES (?, ?, ?) ON CONFLICT DO NOTHING""",
                [search.id, person.id, iso(now)],
            ).rowcount
        return person, bool(added)

    def search_subscribers(self, search_id: int) -> list[Subscriber]:
        """Who hears of this search's new matches."""
        rows = self.db.execute(
            """SELECT s.id, s.email, s.unsubscribe_token, s.feed_token FROM search_subscriptions p
               JOIN subscribers s ON s.id = p.subscriber_id WHERE p.search_id = ?
               ORDER BY s.id""",
            [search_id],
        ).fetchall()
        return [Subscriber(*row) for row in rows]

    def searches_of(self, subscriber_id: int) -> list[SavedSearch]:
        """The saved searches this subscriber hears of, by name (their page lists them)."""
        rows = self.db.query(
            """SELECT s.* FROM searches s JOIN search_subscriptions p ON p.search_id = s.id
               WHERE p.subscriber_id = ? ORDER BY s.name""",
            [subscriber_id],
        )
        return [_saved(row) for row in rows]

    def search_by_id(self, search_id: int) -> SavedSearch | None:
        """The saved search with this id (an unsubscribe link names it so), or None."""
        rows = list(self.db.query("SELECT * FROM searches WHERE id = ?", [search_id]))
        return _saved(rows[0]) if rows else None

    def unsubscribe_search(self, subscriber: Subscriber, search_id: int) -> bool:
        """End one search subscription (its one-click link, the manage page); False when there
        was none. A subscriber left with nothing is forgotten, as after `unsubscribe`."""
        with self.atomic() as db:
            ended = db.execute(
                "DELETE FROM search_subscriptions WHERE subscriber_id = ? AND search_id = ?",
                [subscriber.id, search_id],
            ).rowcount
            self._forget_if_done(subscriber)
        return bool(ended)

    def latest_matches(self, search_id: int, limit: int) -> list[Match]:
        """A search's matches, the newest found first (then by NCT ID), at most `limit`."""
        rows = self.db.execute(
            """SELECT nct_id, found_at, baseline FROM search_matches WHERE search_id = ?
               ORDER BY found_at DESC, nct_id LIMIT ?""",
            [search_id, limit],
        ).fetchall()
        return [Match(nct_id, found_at, bool(baseline)) for nct_id, found_at, baseline in rows]

    def search_subscriber_counts(self) -> dict[int, int]:
        """How many subscribers each search has, by search id (for `search list`)."""
        rows = self.db.execute(
            "SELECT search_id, COUNT(*) FROM search_subscriptions GROUP BY search_id"
        ).fetchall()
        return {search_id: count for search_id, count in rows}


def unknown_search(name: str, names: Sequence[str], flag: str = "--search") -> InputError:
    """The one line for a search name that is not saved, naming those that are."""
    known = f"saved searches: {', '.join(names)}" if names else "no search is saved yet"
    return InputError(
        f"{flag} {name!r}: no saved search of that name ({known}); see `trialwatch search list`"
    )


def _saved(row: dict[str, Any]) -> SavedSearch:
    near = None
    if row["near"] is not None:
        point = (row["near_lat"], row["near_lon"]) if row["near_lat"] is not None else None
        near = Near(row["near"], point, Radius(row["within_amount"], row["within_unit"] or "km"))
    return SavedSearch(
        name=row["name"],
        condition=row["condition"],
        term=row["term"],
        sponsor=row["sponsor"],
        statuses=tuple(s for s in row["statuses"].split(",") if s),
        phases=tuple(p for p in row["phases"].split(",") if p),
        near=near,
        watch_matches=bool(row["watch_matches"]),
        notify_existing=bool(row["notify_existing"]),
        updated_too=bool(row["updated_too"]),
        id=row["id"],
        last_release=row["last_release"],
    )
