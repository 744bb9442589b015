"""`Store.subscribe_many`, the transaction behind `subscribe --file`, on SQLite on disk: every
line as one `subscribe` in turn (a later line about the same subscription updates it), one
welcome per new subscription naming the row it welcomes, and nothing at all written when any
part fails."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from watcher.core.message import Outgoing
from watcher.core.subscriptions import Subscriber, Subscription
from watcher.store.database import Store
from watcher.store.subscribers import WELCOMES_AT_ONCE, Wanted

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ONE, TWO = "NCT07227597", "NCT06911827"


def welcome_of(person: Subscriber, sub: Subscription) -> Outgoing:
    """A stand-in welcome that names the row it was made for."""
    return Outgoing(
        key=f"welcome/s{sub.id}",
        channel="email",
        recipient=person.email,
        subject=f"{sub.id} {sub.nct_id} {sub.audience} {sub.delivery}",
        body=b"hello",
        subscriber_id=person.id,
    )


def rows(store: Store, query: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in store.db.execute(query).fetchall()]


def test_lines_are_taken_in_turn_and_each_new_subscription_is_welcomed_once(
    tmp_path: Path,
) -> None:
    with Store(tmp_path / "t.db") as store:
        store.add_watches([ONE, TWO], T0)
        store.subscribe("old@example.org", [ONE], T0)
        store.subscribe("gone@example.org", [TWO], T0)
        store.unsubscribe(store.subscriber(email="gone@example.org"))  # type: ignore[arg-type]
        with store.atomic():
            done = store.subscribe_many(
                [
                    Wanted("ann@example.org", (ONE, TWO), audience="coordinator"),
                    Wanted("Ann@Example.org", (ONE,), delivery="daily"),  # the same mailbox
                    Wanted("old@example.org", (ONE,), delivery="weekly"),
                    Wanted("old@example.org", (TWO,)),
                ],
                T0,
            )
            store.queue_welcomes(done, welcome_of, T0)
        subscriptions = rows(
            store,
            """SELECT p.id, s.email, p.nct_id, p.audience, p.delivery FROM subscriptions p
               JOIN subscribers s ON s.id = p.subscriber_id ORDER BY p.id""",
        )
        welcomes = rows(store, "SELECT recipient, subject FROM outbox ORDER BY id")
    assert subscriptions == [
        (1, "old@example.org", ONE, "patient", "weekly"),
        # the gone subscriber's row 2 was the largest once; SQLite would give 2 again
        (2, "ann@example.org", ONE, "coordinator", "daily"),
        (3, "ann@example.org", TWO, "coordinator", "immediate"),
        (4, "old@example.org", TWO, "patient", "immediate"),
    ]
    # one welcome per new subscription, made from the row as stored after every line
    assert welcomes == [
        ("ann@example.org", f"2 {ONE} coordinator daily"),
        ("ann@example.org", f"3 {TWO} coordinator immediate"),
        ("old@example.org", f"4 {TWO} patient immediate"),
    ]
    # each line's outcome: the second line updates what the first created
    seen = [[(o.before is None, o.after.delivery) for o in d.outcomes] for d in done]
    assert seen == [
        [(True, "daily"), (True, "immediate")],
        [(False, "daily")],
        [(False, "weekly")],
        [(True, "immediate")],
    ]
    assert done[1].outcomes[0].before is not None
    # ann is new (no feed of hers can exist yet), on both her lines; old was there before
    assert [d.created for d in done] == [True, True, False, False]
    assert done[1].outcomes[0].before.delivery == "immediate"


def test_a_failure_while_welcoming_leaves_nothing_written(tmp_path: Path) -> None:
    def failing(person: Subscriber, sub: Subscription) -> Outgoing:
        if sub.nct_id == TWO:
            raise RuntimeError("the template broke")
        return welcome_of(person, sub)

    with Store(tmp_path / "t.db") as store:
        store.add_watches([ONE, TWO], T0)
        with pytest.raises(RuntimeError, match="the template broke"), store.atomic():
            done = store.subscribe_many(
                [Wanted("ann@example.org", (ONE,)), Wanted("bob@example.org", (ONE, TWO))],
                T0,
            )
            store.queue_welcomes(done, failing, T0)
        counts = rows(
            store,
            """SELECT (SELECT COUNT(*) FROM subscribers), (SELECT COUNT(*) FROM subscriptions),
                      (SELECT COUNT(*) FROM outbox)""",
        )
    assert counts == [(0, 0, 0)]


def test_welcomes_queued_a_batch_at_a_time_are_all_queued_in_order(tmp_path: Path) -> None:
    """More new subscriptions than one batch of welcomes: every one is queued, once, in turn."""
    lines = 2 * WELCOMES_AT_ONCE + 1
    with Store(tmp_path / "t.db") as store:
        store.add_watches([ONE], T0)
        done = store.subscribe_many(
            [Wanted(f"reader{n}@example.org", (ONE,)) for n in range(lines)], T0
        )
        store.queue_welcomes(done, welcome_of, T0)
        queued = rows(store, "SELECT key FROM outbox ORDER BY id")
    assert queued == [(f"welcome/s{n}",) for n in range(1, lines + 1)]
