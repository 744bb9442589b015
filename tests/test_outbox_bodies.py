"""A body shared by many readers is stored once, and each reader still gets the bytes built
for them alone: through a real SMTP server and a real Maildir, across a reopen of the db."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import sqlite_utils
from conftest import MailSink, consecutive_versions
from test_mailmerge import letter
from test_outbox import T0, email, settings_for, smtp
from test_plan_once import GOLDEN, LETTERHEADS, NOW, fingerprint, read, subscribers

from watcher.core.diff import diff_trials
from watcher.core.mailmerge import Merge
from watcher.core.message import Outgoing
from watcher.core.notify import plan_notices
from watcher.core.subscriptions import Subscriber
from watcher.data import load_glossary
from watcher.delivery.outbox import deliver_due
from watcher.delivery.templates import render
from watcher.store.database import Store
from watcher.store.migrations import migrations

NCT = "NCT07227597"
ADDRESSES = ["ann@example.org", "bob.long-name+x@mail.example.co.uk", "cy@example.org"]


def readers(store: Store) -> list[Subscriber]:
    """Subscribers stored here, with the tokens the store gave them."""
    store.add_watches([NCT], T0)
    people = []
    for address in ADDRESSES:
        store.subscribe(address, [NCT], T0)
        person = store.subscriber(email=address)
        assert person is not None
        people.append(person)
    return people


def queued(store: Store, people: list[Subscriber]) -> list[Outgoing]:
    """Each reader's copy of one letter, filled in, and a message built whole; all queued."""
    merge = Merge(letter)
    messages = [merge(person, f"{NCT}/v2/s{person.id}") for person in people]
    messages.append(email("whole", to="dee@example.org"))
    store.enqueue(messages, T0)
    return messages


def reworded(message: Outgoing) -> Outgoing:
    return replace(message, body=message.body.replace(b"Recruiting now", b"Recruiting soon"))


def outbox_bytes(path: Path) -> bytes:
    """Everything the outbox tables hold, as one blob to search."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT * FROM outbox").fetchall()
        rows += db.execute("SELECT * FROM outbox_bodies").fetchall()
    return b"\0".join(v if isinstance(v, bytes) else str(v).encode() for r in rows for v in r)


def test_copies_share_one_stored_body_and_arrive_as_built(
    tmp_path: Path, smtp_server: tuple[MailSink, int]
) -> None:
    """Three copies of a letter are one body in the database (each row some 100 bytes of its
    own), and after a reopen each arrives byte for byte as `build(person, key)` makes it; the
    message built whole arrives as it was."""
    path = tmp_path / "state" / "t.db"
    with Store(path) as store:
        people = readers(store)
        messages = queued(store, people)
    with sqlite3.connect(path) as db:
        bodies, text = db.execute(
            "SELECT COUNT(*), SUM(length(text)) FROM outbox_bodies"
        ).fetchone()
    assert bodies == 1
    with sqlite3.connect(path) as db:
        own = dict(db.execute("SELECT key, length(body) FROM outbox").fetchall())
    size = len(messages[0].body)
    assert text < size and all(own[m.key] == 0 for m in messages[:3])
    assert own["whole"] == len(messages[3].body)

    sink, port = smtp_server
    with Store(path) as store:
        assert deliver_due(store, smtp(tmp_path, port), T0, {}).sent == 4
    built = [letter(person, f"{NCT}/v2/s{person.id}").body for person in people]
    assert sink.raw == [body + b"\r\n" * (not body.endswith(b"\r\n")) for body in built] + [
        messages[3].body
    ]
    assert [to for _, (to,) in sink.envelopes] == [*ADDRESSES, "dee@example.org"]


def test_copies_land_in_the_maildir_as_built(tmp_path: Path) -> None:
    """Without SMTP, each filled-in copy's file is the letter built for that reader."""
    path = tmp_path / "state" / "t.db"
    with Store(path) as store:
        people = readers(store)
        queued(store, people)
        settings = settings_for(tmp_path, "")
        assert deliver_due(store, settings, T0, {}).sent == 4
    files = {f.read_bytes() for f in (settings.mail.maildir / "new").iterdir()}
    for person in people:
        body = letter(person, f"{NCT}/v2/s{person.id}").body
        assert body.replace(b"\r\n", b"\n") in files, person.email


def test_an_unsubscribe_leaves_no_token_and_the_last_one_the_body(tmp_path: Path) -> None:
    """A forgotten reader's row keeps neither their address nor their tokens; the shared body
    stays while another row refers to it, and goes with the last."""
    path = tmp_path / "state" / "t.db"
    with Store(path) as store:
        people = readers(store)
        queued(store, people)
        first, *others = people
        store.unsubscribe(first)
        held = outbox_bytes(path)
        assert first.unsubscribe_token.encode() not in held
        assert first.feed_token.encode() not in held
        assert first.email.encode() not in held
        assert others[0].unsubscribe_token.encode() in held  # still queued for them
        for person in others:
            store.unsubscribe(person)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM outbox_bodies").fetchone() == (0,)
        statuses = db.execute("SELECT status FROM outbox ORDER BY id").fetchall()
    assert statuses == [("cancelled",)] * 3 + [("pending",)]


def test_a_message_queued_twice_leaves_no_unused_body(tmp_path: Path) -> None:
    """Queuing the same keys again (with other bodies) inserts nothing, and the bodies
    nobody refers to are not kept."""
    path = tmp_path / "state" / "t.db"
    with Store(path) as store:
        people = readers(store)
        queued(store, people)
        merge = Merge(lambda person, key: reworded(letter(person, key)))
        again = [merge(person, f"{NCT}/v2/s{person.id}") for person in people]
        store.enqueue(again, T0)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM outbox").fetchone() == (4,)
        assert db.execute("SELECT COUNT(*) FROM outbox_bodies").fetchone() == (1,)


def test_a_row_queued_before_the_migration_goes_as_it_was(tmp_path: Path) -> None:
    """m014 leaves the rows queued whole before it as they are: they go out unchanged."""
    path = tmp_path / "state" / "t.db"
    path.parent.mkdir()
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before="m014_outbox_bodies")
    old = email("queued-before")
    db["outbox"].insert(
        {
            "key": old.key,
            "channel": "email",
            "recipient": old.recipient,
            "subject": old.subject,
            "body": old.body,
            "next_attempt_at": "2026-01-01T00:00:00+00:00",
            "created_at": "2026-01-01T00:00:00+00:00",
        }
    )
    db.close()
    settings = settings_for(tmp_path, "")
    with Store(path) as store:
        assert deliver_due(store, settings, T0, {}).sent == 1
    (delivered,) = (settings.mail.maildir / "new").iterdir()
    assert delivered.read_bytes() == old.body.replace(b"\r\n", b"\n")


def test_a_release_s_emails_come_out_of_the_outbox_as_built_from_scratch(tmp_path: Path) -> None:
    """The change emails of recorded releases, planned for readers of every kind (places,
    digests, odd addresses and tokens), queued and claimed back: fewer bodies stored than
    emails, and each claimed email is the one the golden file has for it, built from scratch
    for each reader (`tests/test_plan_once.py`)."""
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    glossary = load_glossary()
    told = {key.split("/")[1] for key in golden if key.startswith("web/")}
    trials = {p.name.split("__")[0]: (p, q) for p, q in consecutive_versions() if p.name in told}
    pairs = list(trials.values())[:3]  # one pair a trial: their messages' keys differ
    with Store(tmp_path / "t.db") as store:
        for old_path, new_path in pairs:
            old, new = read(old_path), read(new_path)
            nct_id = new.nct_id or old_path.name.split("__")[0]
            notices = plan_notices(
                nct_id,
                2,
                new,
                diff_trials(old, new),
                subscribers(),
                (),
                glossary=glossary,
                letterhead=LETTERHEADS["web"],
                render=render,
                now=NOW,
            )
            store.enqueue([unlinked(m) for m in notices.messages], NOW)
        (bodies,) = store.db.execute("SELECT COUNT(*) FROM outbox_bodies").fetchone()
        rows = store.claim_due(NOW, "test", at=NOW, until=NOW + timedelta(minutes=5), limit=10**6)
    assert 0 < bodies < len(rows)
    claimed = {
        row.key: fingerprint(Outgoing(row.key, row.channel, row.recipient, row.subject, row.body))
        for row in rows
    }
    expected = {
        key.split("/", 2)[2]: value
        for key, value in golden.items()
        if key.startswith("web/") and key.split("/")[1] in {p.name for p, _ in pairs}
    }
    assert claimed == expected


def unlinked(message: Outgoing) -> Outgoing:
    """The message queued without its subscriber's row (there is none here), shared or whole."""
    if message.merged is None:
        return replace(message, subscriber_id=None)
    return Outgoing.filled(
        message.merged,
        key=message.key,
        channel=message.channel,
        recipient=message.recipient,
        subject=message.subject,
        subscriber_id=None,
    )
