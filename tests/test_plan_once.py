"""Planning a version's emails once per distinct message gives every subscriber the very bytes
they got when each email was planned on its own.

`tests/golden/plan_notices.json` holds a fingerprint (SHA-256 of key, recipient, subject and
body) of every message `plan_notices` made for a varied set of subscribers on every recorded
pair of versions, written by the planner that built each email from scratch for each
subscriber. Regenerate only for a meant change of wording: `UPDATE_GOLDEN=1 pytest
tests/test_plan_once.py`, and read why the emails changed before committing the file.
"""

from __future__ import annotations

import json
import os
from base64 import urlsafe_b64encode
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from hashlib import sha256
from pathlib import Path

import pytest
from conftest import consecutive_versions, version_chains

from watcher.core.diff import diff_trials
from watcher.core.distance import Radius
from watcher.core.message import Outgoing
from watcher.core.notify import Letterhead, Welcomes, plan_notices, welcome_email
from watcher.core.places import Near
from watcher.core.record import Trial, parse_trial
from watcher.core.subscriptions import Subscriber, Subscription
from watcher.data import load_glossary
from watcher.delivery.templates import render

GOLDEN = Path(__file__).parent / "golden" / "plan_notices.json"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LETTERHEADS = {
    "mailto": Letterhead("trialwatch <alerts@trials.example.org>"),
    "web": Letterhead("trialwatch <alerts@trials.example.org>", "https://trials.example.org"),
}
BOSTON = Near("Boston, Massachusetts, United States", (42.3601, -71.0589), Radius(50, "mi"))
GUANGZHOU = Near("Guangzhou, China")


def token(seed: str, length: int = 43) -> str:
    """A stand-in for `secrets.token_urlsafe(32)`: that alphabet and length, but fixed."""
    return urlsafe_b64encode(sha256(seed.encode()).digest() * 2).decode()[:length]


@cache
def subscribers() -> tuple[tuple[Subscriber, Subscription], ...]:
    """Everyone the planner can tell apart: audiences, places, kinds, digests, odd addresses
    and tokens, and people whose emails differ only in their own parts (address, tokens)."""
    people = [
        ("ana@example.org", "patient", "immediate", None, None),
        ("bo@example.org", "patient", "immediate", None, None),  # same body as ana's
        ("cy.long-name+trials@mail.example.co.uk", "patient", "immediate", None, None),
        ("chen@example.org", "patient", "immediate", None, GUANGZHOU),
        ("dee@example.org", "patient", "immediate", None, BOSTON),
        ("eli@example.org", "coordinator", "immediate", None, None),
        ("fay@example.org", "coordinator", "immediate", frozenset({"status"}), None),
        ("gus@example.org", "patient", "daily", None, None),
        ("zoë@exämple.org", "patient", "immediate", None, None),  # an IDN address
        (
            "a.very.long.local.part.indeed." * 3 + "x@example.org",
            "patient",
            "immediate",
            None,
            None,
        ),
        ("hal@example.org", "patient", "immediate", frozenset({"sites"}), BOSTON),
        ("ida@example.org", "coordinator", "immediate", None, None),
        ("jo@example.org", "coordinator", "immediate", None, None),
        ("kai@example.org", "patient", "immediate", None, BOSTON),
        ("lu@example.org", "patient", "immediate", None, None),  # a short token of old
        ("mo@example.org", "patient", "immediate", None, None),  # a token of another length
    ]
    lengths = {15: 8, 16: 20}
    return tuple(
        (
            Subscriber(
                number,
                email,
                token(f"unsubscribe {number}", lengths.get(number, 43)),
                token(f"feed {number}"),
            ),
            Subscription(
                100 + number,
                number,
                "",
                audience=audience,
                delivery=delivery,
                kinds=kinds,
                near=near,
            ),
        )
        for number, (email, audience, delivery, kinds, near) in enumerate(people, start=1)
    )


def read(path: Path) -> Trial:
    return parse_trial(json.loads(path.read_text(encoding="utf-8")))


def fingerprint(message: Outgoing) -> str:
    head = "\x00".join((message.key, message.recipient, message.subject)).encode("utf-8")
    return sha256(head + b"\x00" + message.body).hexdigest()


def planned() -> dict[str, str]:
    """Every message planned on every recorded pair, for each letterhead, by its key."""
    glossary = load_glossary()
    prints: dict[str, str] = {}
    for old_path, new_path in consecutive_versions():
        old, new = read(old_path), read(new_path)
        nct_id = new.nct_id or old_path.name.split("__")[0]
        changes = diff_trials(old, new)
        for name, head in LETTERHEADS.items():
            notices = plan_notices(
                nct_id,
                2,
                new,
                changes,
                subscribers(),
                (),
                glossary=glossary,
                letterhead=head,
                render=render,
                now=NOW,
            )
            for message in notices.messages:
                prints[f"{name}/{old_path.name}/{message.key}"] = fingerprint(message)
    return prints


def same_as_golden(prints: dict[str, str], golden: Path) -> None:
    """Every message's fingerprint is the golden file's (written anew when UPDATE_GOLDEN=1)."""
    if UPDATE:
        golden.write_text(json.dumps(prints, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    expected = json.loads(golden.read_text(encoding="utf-8"))
    assert len(prints) > 100  # the set above reaches many emails, not a handful
    assert prints.keys() == expected.keys()
    changed = sorted(key for key in prints if prints[key] != expected[key])
    assert changed == []


@pytest.mark.slow
def test_every_recorded_change_email_is_byte_for_byte_what_it_was() -> None:
    same_as_golden(planned(), GOLDEN)


WELCOMES = Path(__file__).parent / "golden" / "welcomes.json"


def welcomed() -> dict[str, str]:
    """The welcome email of every subscriber above to every recorded trial (its newest
    version), one by one (`welcome_email`) and many at once (`Welcomes`), by its key."""
    glossary = load_glossary()
    newest = {paths[-1].name: read(paths[-1]) for paths in version_chains().values()}
    prints: dict[str, str] = {}
    for name, head in LETTERHEADS.items():
        for path, trial in sorted(newest.items()):
            nct_id = trial.nct_id or path.split("__")[0]
            many = Welcomes(
                {nct_id: trial}.__getitem__,
                feed_url=lambda feed_token: f"https://trials.example.org/feeds/{feed_token}",
                glossary=glossary,
                letterhead=head,
                render=render,
                now=NOW,
            )
            for person, subscription in subscribers():
                subscription = replace(subscription, nct_id=nct_id)
                one = welcome_email(
                    person,
                    subscription,
                    trial,
                    feed_url=f"https://trials.example.org/feeds/{person.feed_token}",
                    glossary=glossary,
                    letterhead=head,
                    render=render,
                    now=NOW,
                )
                assert many(person, subscription).body == one.body, one.key
                prints[f"{name}/{path}/{one.key}"] = fingerprint(one)
    return prints


@pytest.mark.slow
def test_every_welcome_email_is_byte_for_byte_what_it_was() -> None:
    """The longest email, the welcome with the whole trial, one by one and many at once."""
    same_as_golden(welcomed(), WELCOMES)
