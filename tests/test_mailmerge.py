"""Copies filled in per reader are, byte for byte, the emails built for each reader alone."""

from __future__ import annotations

from base64 import urlsafe_b64encode
from dataclasses import replace
from datetime import UTC, datetime
from hashlib import sha256

import pytest
from conftest import demo_versions

from watcher.core.mailmerge import Merge
from watcher.core.message import Outgoing, build_email, unsubscribe_targets, wire_bytes
from watcher.core.notify import Letterhead, Welcomes, welcome_email
from watcher.core.places import Near
from watcher.core.record import parse_trial
from watcher.core.subscriptions import Subscriber, Subscription
from watcher.data import load_glossary
from watcher.delivery.templates import render

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SENDER = "trialwatch <alerts@trials.example.org>"
WEB = "https://trials.example.org"


def token(seed: str, length: int = 43) -> str:
    return urlsafe_b64encode(sha256(seed.encode()).digest() * 2).decode()[:length]


READERS = [
    Subscriber(1, "ann@example.org", token("u1"), token("f1")),
    Subscriber(2, "bob.long-name+x@mail.example.co.uk", token("u2"), token("f2")),
    Subscriber(3, "cy@example.org", token("u3"), token("f3")),
    Subscriber(4, "dee@example.org", "tok-4", token("f4")),  # a short token of old
    Subscriber(5, "zoë@exämple.org", token("u5"), token("f5")),  # no ASCII form as typed
    Subscriber(6, "eve@example.org", token("u6", 20), token("f6")),  # another length
]


def letter(person: Subscriber, key: str) -> Outgoing:
    """An email whose HTML has the reader's token deep in a long line, where quoted-printable
    breaks it, and whose text has it wrapped."""
    link = f"{WEB}/unsubscribe/{person.unsubscribe_token}"
    message = build_email(
        sender=SENDER,
        to=person.email,
        subject="NCT07227597 is now recruiting — a title long enough to fold the header",
        text=f"Recruiting now.\n\nTo stop these emails, open {link}\nFeed: {person.feed_token}\n",
        html=f'<p style="margin: 0 0 12px; color: #1f2328">Recruiting now: <a href="{link}">'
        f"stop</a> — or read {person.feed_token} “here”.</p>\n",
        key=key,
        date=NOW,
        unsubscribe=unsubscribe_targets(person.unsubscribe_token, WEB, SENDER),
    )
    return Outgoing(key, "email", person.email, "subject", wire_bytes(message), person.id)


def test_a_filled_in_copy_is_the_email_built_for_that_reader() -> None:
    merge = Merge(letter)
    for person in READERS:
        key = f"NCT07227597/v2/s{person.id}"
        assert merge(person, key) == letter(person, key), person.email


@pytest.mark.slow  # words the trial afresh for each reader, as `welcome_email` does: seconds
def test_welcomes_planned_together_are_each_welcome_email() -> None:
    trial = parse_trial(demo_versions("NCT07227597")[0])
    glossary = load_glossary()
    head = Letterhead(SENDER, WEB)
    china = Near("China")
    options = [
        ("patient", "immediate", None),
        ("patient", "daily", china),
        ("coordinator", "weekly", None),
    ]
    welcomes = Welcomes(
        lambda _: trial,
        feed_url=lambda feed: f"{WEB}/feeds/private/{feed}.atom",
        glossary=glossary,
        letterhead=head,
        render=render,
        now=NOW,
    )
    for number, person in enumerate(READERS * 2):
        audience, delivery, near = options[number % len(options)]
        subscription = Subscription(
            100 + number, person.id, "NCT07227597", audience=audience, delivery=delivery, near=near
        )
        alone = welcome_email(
            person,
            subscription,
            trial,
            feed_url=f"{WEB}/feeds/private/{person.feed_token}.atom",
            glossary=glossary,
            letterhead=head,
            render=render,
            now=NOW,
        )
        assert welcomes(person, subscription) == alone, (person.email, audience)


def test_a_reader_whose_address_is_not_checkable_gets_the_email_built_whole() -> None:
    """An address stored before addresses were checked (a label starting with a hyphen) is
    never filled in, and building it is what it always was."""
    merge = Merge(letter)
    for person in (*READERS[:3], Subscriber(9, "old@-example.org", token("u9"), token("f9"))):
        key = f"NCT07227597/v2/s{person.id}"
        assert merge(person, key) == letter(person, key), person.email


def test_copies_share_one_body_and_a_changed_copy_is_whole() -> None:
    """Readers of one shape share one body (what the outbox stores once); a copy given another
    body by `replace` is a message built whole, stored with the body it was given."""
    merge = Merge(letter)
    copies = [merge(person, f"NCT07227597/v2/s{person.id}") for person in READERS[:3]]
    assert len({c.merged.shared.digest for c in copies if c.merged is not None}) == 1
    assert all(c.merged is not None for c in copies)
    changed = replace(copies[1], body=b"other")
    assert changed.merged is None and changed.body == b"other"
    assert replace(copies[2], subject="s").body == letter(READERS[2], copies[2].key).body
