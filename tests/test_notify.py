"""Notifications as subscribers receive them: the right people, the right words, exactly once.

The planning is pure (`notify`); the end-to-end tests run the real CLI against the replay
registry, deliver to a real Maildir or a real SMTP server (aiosmtpd), and read the mail back with
the `email` package, as a mail client would.
"""

from __future__ import annotations

import copy
import json
import mailbox
import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from conftest import GatedSink, Trialwatch, demo_versions, write_config

from watcher.core.change import Change
from watcher.core.diff import diff_trials
from watcher.core.notify import Letterhead, plan_notices
from watcher.core.record import parse_trial
from watcher.core.schedule import last_slot
from watcher.core.subscriptions import Subscriber, Subscription
from watcher.data import load_glossary
from watcher.data.gazetteer import load_gazetteer
from watcher.delivery.templates import render
from watcher.registry.replay_server import ReplayServer
from watcher.store.database import Store

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
HEAD = Letterhead("trialwatch <alerts@trials.example.org>")
PERSON = Subscriber(7, "pat@example.org", "unsub-token-123", "feed-token-456")
STARTED = "NCT07227597"  # its two demo versions: not yet recruiting → recruiting, + 2 sites
REPO = Path(__file__).parent.parent


def parse(body: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(body)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    """(plain text, HTML) as a mail client shows them."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def plan(
    old: dict[str, Any],
    new: dict[str, Any],
    *subscriptions: Subscription,
    webhooks: tuple[Any, ...] = (),
) -> tuple[list[Change], Any]:
    changes = diff_trials(parse_trial(old), parse_trial(new))
    nct_id = parse_trial(new).nct_id
    notices = plan_notices(
        nct_id,
        2,
        parse_trial(new),
        changes,
        [(PERSON, s) for s in subscriptions],
        webhooks,
        glossary=load_glossary(),
        letterhead=HEAD,
        render=render,
        now=NOW,
    )
    return changes, notices


def status_and_ohio_site() -> tuple[dict[str, Any], dict[str, Any]]:
    """A Beijing trial that opens (status change) and adds a recruiting site in Ohio."""
    (record,) = demo_versions("NCT07310784")
    old = copy.deepcopy(record)
    old["protocolSection"]["statusModule"]["overallStatus"] = "NOT_YET_RECRUITING"
    new = copy.deepcopy(record)
    new["protocolSection"]["contactsLocationsModule"]["locations"].append(
        {
            "facility": "Cleveland Clinic",
            "status": "RECRUITING",
            "city": "Cleveland",
            "state": "Ohio",
            "zip": "44195",
            "country": "United States",
        }
    )
    return old, new


# -- who hears what (pure) -----------------------------------------------------------------------


def test_patient_email_says_what_changed_first_then_what_the_trial_is() -> None:
    """A patient's email leads with the change in plain words, then the trial, then the way out."""
    old, new = demo_versions(STARTED)
    _, notices = plan(old, new, Subscription(1, PERSON.id, STARTED))
    (outgoing,) = notices.messages
    message = parse(outgoing.body)
    assert message["Subject"].startswith(f"{STARTED} is now recruiting — A Clinical Study")
    assert message["To"] == PERSON.email
    # No web base here, so the only way out is mailto:, which RFC 8058 does not allow one-click
    # for (the header was sent before the reliability issue; tests/test_message.py has the rest).
    assert message["List-Unsubscribe-Post"] is None
    assert PERSON.unsubscribe_token in message["List-Unsubscribe"]
    assert message["Message-ID"].endswith("@trials.example.org>")
    text, html = parts(message)
    assert text.index("This study has started looking for people to join.") < text.index(
        "Key facts"
    )
    assert "Only the study team can tell you if you qualify. Talk with your doctor." in text
    assert f"https://clinicaltrials.gov/study/{STARTED}" in text
    assert f"unsubscribe {PERSON.unsubscribe_token}" in " ".join(text.split())  # visible way out
    assert "This study has started looking for people to join." in html


def test_a_one_word_criterion_edit_arrives_as_that_word_marked() -> None:
    """NCT07227597 changed "allocation" to "allocation/randomization" in a 30-word rule: the
    email shows a dozen words before and now, and its HTML highlights "/randomization" alone."""
    old, new = demo_versions(STARTED)
    _, notices = plan(old, new, Subscription(1, PERSON.id, STARTED))
    text, html = parts(parse(notices.messages[0].body))
    unwrapped = " ".join(text.split("Key facts")[0].split())
    assert "Before: …minor surgery within 2 weeks of allocation (or first dose)…" in unwrapped
    assert "Now: …minor surgery within 2 weeks of allocation/randomization (or first dose)…" in (
        unwrapped
    )
    assert "surgical procedure" not in unwrapped  # the unchanged rest of the rule is left out
    what_changed = html.split("Key facts")[0]
    (item,) = [li for li in what_changed.split("<li>") if "allocation" in li]
    assert re.findall(r"<(?:ins|del)\b[^>]*>([^<]*)</(?:ins|del)>", item) == ["/randomization"]
    assert "of allocation<ins " in item and "</ins> (or first dose)…" in item


def test_near_beijing_patient_gets_the_status_change_but_not_the_ohio_site() -> None:
    """`--near "Beijing, China"` leaves out a new site in Ohio but never the status change."""
    old, new = status_and_ohio_site()
    beijing = Subscription(
        1, PERSON.id, "NCT07310784", near=load_gazetteer().resolve("Beijing, China")
    )
    ohio = Subscription(
        2, PERSON.id, "NCT07310784", near=load_gazetteer().resolve("Ohio, United States")
    )
    _, notices = plan(old, new, beijing, ohio)
    far, near = (parts(parse(m.body))[0].split("Key facts")[0] for m in notices.messages)
    assert "started looking for people" in far and "Cleveland" not in far
    assert "started looking for people" in near and "Cleveland" in near


def test_a_change_that_matters_to_nobody_sends_nothing() -> None:
    """A patient is not emailed about a design detail (an outcome's time frame): no noise."""
    old, _ = demo_versions(STARTED)
    new = copy.deepcopy(old)
    new["protocolSection"]["outcomesModule"]["primaryOutcomes"][0]["timeFrame"] = "2 years"
    changes, notices = plan(old, new, Subscription(1, PERSON.id, STARTED))
    assert [c.kind for c in changes] == ["outcomes"]
    assert notices.messages == () and notices.digests == ()


def test_a_patient_s_own_choice_of_kinds_is_honoured() -> None:
    """`--kinds enrollment` means just that: no email for a status change or a new site."""
    old, new = status_and_ohio_site()
    chosen = Subscription(1, PERSON.id, "NCT07310784", kinds=frozenset({"enrollment"}))
    _, notices = plan(old, new, chosen)
    assert notices.messages == ()


def test_digest_subscriptions_keep_their_changes_for_later() -> None:
    """A daily subscriber gets no email now; the changes they want wait for the digest."""
    old, new = status_and_ohio_site()
    daily = Subscription(3, PERSON.id, "NCT07310784", audience="coordinator", delivery="daily")
    changes, notices = plan(old, new, daily)
    assert notices.messages == ()
    assert notices.digests == ((3, tuple(range(len(changes)))),)


def test_trial_text_with_markup_arrives_escaped_in_the_html_part() -> None:
    """`<script>` and `&` in a record are shown as text in HTML mail, never run as markup."""
    old, new = status_and_ohio_site()
    site = new["protocolSection"]["contactsLocationsModule"]["locations"][-1]
    site["facility"] = "<script>alert(1)</script> Smith & Sons Clinic"
    _, notices = plan(old, new, Subscription(1, PERSON.id, "NCT07310784"))
    text, html = parts(parse(notices.messages[0].body))
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Smith &amp; Sons Clinic" in html
    assert "<script>" not in html
    assert "<script>alert(1)</script> Smith & Sons Clinic" in text


def test_webhooks_get_one_json_post_per_version_with_their_kinds() -> None:
    """A webhook limited to status changes gets one POST carrying just those, as JSON."""

    class Hook:
        url = "https://hooks.example.org/trials"
        kinds = ("status",)

    old, new = status_and_ohio_site()
    _, notices = plan(old, new, webhooks=(Hook(),))
    (hook,) = notices.messages
    assert (hook.channel, hook.recipient) == ("webhook", Hook.url)
    body = json.loads(hook.body)
    assert body["nct_id"] == "NCT07310784" and body["version"] == 2
    assert [c["kind"] for c in body["changes"]] == ["status"]
    assert body["changes"][0]["new"] == "RECRUITING"


@pytest.mark.parametrize(
    ("now", "weekday", "slot"),
    [
        ("2026-11-24T09:30", None, "2026-11-24T08:00"),  # after today's hour: today's
        ("2026-11-24T07:59", None, "2026-11-23T08:00"),  # before it: yesterday's
        ("2026-11-24T09:30", "monday", "2026-11-23T08:00"),  # a Tuesday: Monday's
        ("2026-11-23T08:00", "monday", "2026-11-23T08:00"),  # on the hour itself
        ("2026-11-23T07:00", "monday", "2026-11-16T08:00"),  # Monday, before the hour
    ],
)
def test_digests_fall_due_at_the_configured_hour(now: str, weekday: str | None, slot: str) -> None:
    """Daily digests go at the digest hour, weekly ones at that hour on the chosen day."""
    assert last_slot(datetime.fromisoformat(now), 8, weekday) == datetime.fromisoformat(slot)


# -- end to end: the CLI, a Maildir, an SMTP server ----------------------------------------------


def maildir_messages(state: Path) -> list[EmailMessage]:
    if not (state / "maildir").exists():
        return []
    box = mailbox.Maildir(state / "maildir", create=False)
    return [parse(box.get_bytes(key)) for key in sorted(box.keys())]


def changes_only(messages: list[EmailMessage]) -> list[EmailMessage]:
    """The messages about changes: without the welcome email each subscription starts with."""
    return [m for m in messages if not str(m["Subject"]).startswith("You now follow")]


def token_of(state: Path, email: str) -> str:
    with Store(state / "trialwatch.db") as store:
        person = store.subscriber(email=email)
        assert person is not None
        return person.unsubscribe_token


def start_watching(trialwatch: Trialwatch, replay: ReplayServer, record: dict[str, Any]) -> str:
    nct_id = parse_trial(record).nct_id
    replay.registry.publish(record)
    trialwatch("watch", "add", nct_id)
    trialwatch("check")
    return nct_id


def test_check_queues_and_delivers_one_email_to_the_maildir(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """With no SMTP server set, `check` puts one readable email in the Maildir, and only once."""
    old, new = demo_versions(STARTED)
    start_watching(trialwatch, replay, old)
    trialwatch("subscribe", "pat@example.org", STARTED)
    replay.registry.publish(new)
    result = trialwatch.json("check")
    assert result["delivery"]["sent"] == 2  # the welcome, then the change
    trialwatch("check")
    trialwatch("deliver")
    (message,) = changes_only(maildir_messages(trialwatch.state_dir))
    assert message["Subject"].startswith(f"{STARTED} is now recruiting")
    text, _ = parts(message)
    assert "This study has started looking for people to join." in text
    token = token_of(trialwatch.state_dir, "pat@example.org")
    assert token in message["List-Unsubscribe"]
    trialwatch("unsubscribe", "--token", token)
    assert trialwatch.json("subscribers") == []


def test_a_coordinator_on_daily_gets_one_digest_with_every_change_of_the_day(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """Two changed versions in a day become one digest with exact old → new values."""
    old, new = demo_versions(STARTED)
    start_watching(trialwatch, replay, old)
    trialwatch("subscribe", "coord@example.org", STARTED, "--audience", "coordinator")
    trialwatch("unsubscribe", "coord@example.org")
    trialwatch(
        "subscribe", "coord@example.org", STARTED, "--audience", "coordinator", "--digest", "daily"
    )
    replay.registry.publish(new)
    trialwatch("check")
    later = copy.deepcopy(new)
    later["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = 777
    later["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] = "2026-03-20"
    replay.registry.publish(later)
    trialwatch("check")
    assert changes_only(maildir_messages(trialwatch.state_dir)) == []  # nothing before it
    trialwatch("digest", "--now")
    trialwatch("digest", "--now")  # nothing waits any more: no second message
    (digest,) = changes_only(maildir_messages(trialwatch.state_dir))
    text, _ = parts(digest)
    assert "Your daily trialwatch digest" in digest["Subject"]
    assert "NOT_YET_RECRUITING → RECRUITING" in text
    assert "777" in text
    # It opens with where the trial stands now, and carries every change in changes.csv.
    table = text.split("Your trials", 1)[1].split("\n\n", 1)[0]
    assert STARTED in table and "Recruiting" in table
    (attachment,) = list(digest.iter_attachments())
    assert attachment.get_filename() == "changes.csv"
    rows = attachment.get_payload(decode=True).decode("utf-8-sig").splitlines()
    assert rows[0] == "trial,kind,field,old,new,site,date"
    assert any(",enrollment,Enrollment," in row and "777" in row for row in rows)


@pytest.fixture
def smtp_config(
    tmp_path: Path, replay: ReplayServer, gated_smtp_server: tuple[GatedSink, int]
) -> tuple[GatedSink, Trialwatch]:
    """The CLI set to deliver through a real SMTP server on 127.0.0.1."""
    sink, port = gated_smtp_server
    smtp = f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
    config = write_config(tmp_path / "config.toml", replay.base_url, smtp)
    return sink, Trialwatch(tmp_path / "state", config)


def test_check_delivers_through_smtp(
    smtp_config: tuple[GatedSink, Trialwatch], replay: ReplayServer
) -> None:
    """The email reaches a real SMTP server as multipart text + HTML with its list headers."""
    sink, trialwatch = smtp_config
    old, new = demo_versions(STARTED)
    start_watching(trialwatch, replay, old)
    trialwatch("subscribe", "pat@example.org", STARTED)
    replay.registry.publish(new)
    trialwatch("check")
    (message,) = changes_only(sink.messages)
    assert sink.envelopes[0][1] == ["pat@example.org"]
    assert message.get_content_type() == "multipart/alternative"
    assert message["List-Unsubscribe"].startswith("<mailto:")
    assert "This study has started looking for people to join." in parts(message)[0]


@pytest.mark.slow
def test_killed_between_queued_and_sent_the_email_still_goes_exactly_once(
    smtp_config: tuple[GatedSink, Trialwatch], replay: ReplayServer
) -> None:
    """SIGKILL while the email is queued but unsent: the next run sends it, once."""
    sink, trialwatch = smtp_config
    old, new = demo_versions(STARTED)
    start_watching(trialwatch, replay, old)
    trialwatch("subscribe", "pat@example.org", STARTED)
    trialwatch("deliver")  # the welcome email goes first
    sink.messages.clear()
    sink.held.clear()  # held again only by the change email
    replay.registry.publish(new)
    sink.gate.clear()
    env = {
        **os.environ,
        "TRIALWATCH_CONFIG": str(trialwatch.config),
        "STATE_DIRECTORY": str(trialwatch.state_dir),
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "watcher", "check"], env=env, cwd=REPO, stderr=subprocess.PIPE
    )
    try:
        assert sink.held.wait(30), "the check never reached the mail server"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert sink.messages == []
    sink.gate.set()
    trialwatch("deliver")
    trialwatch("deliver")
    trialwatch("check")
    (message,) = sink.messages
    assert message["Subject"].startswith(f"{STARTED} is now recruiting")
    with Store(trialwatch.state_dir / "trialwatch.db") as store:
        summary = store.outbox_summary()
    assert (summary["sent"], summary["pending"], summary["failed"]) == (2, 0, 0)
