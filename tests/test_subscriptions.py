"""Subscriptions that behave, through the real command line and the replay registry over HTTP:
subscribing looks the trial up and watches it, re-subscribing changes only what is given, one
subscriber per mailbox whatever the capitals, unsubscribing twice is fine, a followed trial is
not dropped without a word, and subscribers hear when their trial leaves the registry."""

from __future__ import annotations

import copy
import mailbox
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import cast

import feedparser
import pytest
from conftest import Trialwatch, demo_versions, write_config

from watcher.registry.replay_server import ReplayServer
from watcher.store.database import Store

NCT = "NCT07227597"  # demo: not yet recruiting → recruiting
OTHER = "NCT06911827"
WELCOME = "You now follow"


def mails(trialwatch: Trialwatch) -> list[EmailMessage]:
    """Every email in the Maildir, as a mail program reads it, oldest first."""
    folder = trialwatch.state_dir / "maildir"
    if not folder.exists():
        return []
    box = mailbox.Maildir(folder, create=False)
    parser = BytesParser(policy=policy.default)
    return [cast(EmailMessage, parser.parsebytes(box.get_bytes(k))) for k in sorted(box.keys())]


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return " ".join(body.get_content().split())


def html_of(message: EmailMessage) -> str:
    body = message.get_body(("html",))
    assert body is not None
    return str(body.get_content())


def published(replay: ReplayServer, *nct_ids: str) -> None:
    replay.registry.publish(*(demo_versions(n)[0] for n in nct_ids))


def pending(trialwatch: Trialwatch) -> int:
    return int(trialwatch.json("status")["outbox"]["pending"])


# -- subscribing to a trial not watched yet -----------------------------------------------------


def test_subscribing_to_an_unwatched_trial_looks_it_up_and_watches_it(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """The registry is asked about the trial once; it is then watched, and the subscription
    starts with a welcome email."""
    published(replay, NCT)
    result = trialwatch("subscribe", "pat@example.org", NCT)
    assert result.stdout == (
        f"{NCT}  subscribed (now watched): audience patient, digest immediate; "
        "welcome email queued\n"
    )
    assert [r.path for r in replay.requests] == [f"/api/v2/studies/{NCT}"]
    assert [t["nct_id"] for t in trialwatch.json("watch", "list")] == [NCT]
    assert pending(trialwatch) == 1


def test_an_unknown_nct_id_is_refused_in_one_line_and_nothing_is_stored(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """A typo in one NCT ID among good ones: one `Error:` line naming it, exit 2, and nothing
    watched, subscribed or queued, not even for the good one."""
    published(replay, NCT)
    result = trialwatch("subscribe", "pat@example.org", NCT, "NCT07227590", expect=2)
    assert result.stderr == (
        "Error: NCT07227590: ClinicalTrials.gov has no such trial (404); check the NCT ID\n"
    )
    assert trialwatch.json("watch", "list") == []
    assert trialwatch.json("subscribers") == []
    assert pending(trialwatch) == 0


def test_an_old_id_the_registry_now_lists_under_another_is_refused_with_the_new_one(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """Subscribing by an alias (the registry answers 301) names the ID to use instead."""
    listed = copy.deepcopy(demo_versions(OTHER)[0])
    listed["protocolSection"]["identificationModule"]["nctIdAliases"] = ["NCT01234567"]
    replay.registry.publish(listed)
    result = trialwatch("subscribe", "pat@example.org", "NCT01234567", expect=2)
    assert result.stderr == (
        f"Error: NCT01234567: ClinicalTrials.gov now lists this trial as {OTHER}; "
        f"subscribe to {OTHER} instead\n"
    )
    assert trialwatch.json("watch", "list") == []


def test_a_watched_and_stored_trial_is_not_asked_about_again(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """Subscribing to a trial already stored here needs no registry at all."""
    published(replay, NCT)
    trialwatch("watch", "add", NCT)
    trialwatch("check")
    replay.reset_log()
    assert "subscribed: " in trialwatch("subscribe", "pat@example.org", NCT).stdout
    assert replay.requests == []


# -- subscribing again --------------------------------------------------------------------------


def test_subscribing_again_changes_only_the_options_given_and_says_so(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """`--digest weekly` a second time keeps the `--near` of the first, says so, and sends no
    second welcome."""
    published(replay, NCT)
    trialwatch("subscribe", "pat@example.org", NCT, "--near", "Beijing, China")
    again = trialwatch("subscribe", "pat@example.org", NCT, "--digest", "weekly")
    assert again.stdout == f"{NCT}  already subscribed: digest: immediate → weekly; near kept\n"
    (person,) = trialwatch.json("subscribers")
    assert person["subscriptions"] == [
        {
            "nct_id": NCT,
            "audience": "patient",
            "delivery": "weekly",
            "kinds": None,
            "near": "Beijing, China",
            "within": "100 km",
        }
    ]
    same = trialwatch("subscribe", "pat@example.org", NCT, "--digest", "weekly")
    assert same.stdout == f"{NCT}  already subscribed: near kept\n"
    assert pending(trialwatch) == 1  # the first welcome only


def test_subscribe_and_unsubscribe_speak_json_without_the_address(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """Scripts get what happened per trial; no address is ever printed."""
    published(replay, NCT, OTHER)
    first = trialwatch("subscribe", "pat@example.org", NCT, "--json")
    assert "example.org" not in first.stdout
    again = trialwatch.json("subscribe", "pat@example.org", NCT, OTHER, "--audience", "coordinator")
    assert again == [
        {
            "nct_id": NCT,
            "result": "updated",
            "watched_now": False,
            "welcome_queued": False,
            "changed": {"audience": ["patient", "coordinator"]},
            "options": {
                "audience": "coordinator",
                "delivery": "immediate",
                "kinds": None,
                "near": None,
            },
        },
        {
            "nct_id": OTHER,
            "result": "subscribed",
            "watched_now": True,
            "welcome_queued": True,
            "changed": {},
            "options": {
                "audience": "coordinator",
                "delivery": "immediate",
                "kinds": None,
                "near": None,
            },
        },
    ]
    ended = trialwatch("unsubscribe", "pat@example.org", OTHER, "--json")
    assert "example.org" not in ended.stdout
    assert trialwatch.json("unsubscribe", "pat@example.org") == {
        "ended": 1,
        "already_unsubscribed": False,
    }


# -- one mailbox, one subscriber ----------------------------------------------------------------


def test_the_same_address_in_other_capitals_is_one_subscriber_kept_as_first_typed(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """FAM@Example.org and fam@example.org are one mailbox in practice (RFC 5321 discourages
    telling them apart): one subscriber, stored as first typed, found either way."""
    published(replay, NCT, OTHER)
    trialwatch("subscribe", "FAM@Example.org", NCT)
    again = trialwatch("subscribe", "fam@example.org", NCT, OTHER)
    assert again.stdout.splitlines()[0] == f"{NCT}  already subscribed: nothing changed"
    people = trialwatch.json("subscribers")
    assert [(p["email"], len(p["subscriptions"])) for p in people] == [("FAM@Example.org", 2)]
    assert trialwatch.json("unsubscribe", "fam@EXAMPLE.ORG")["ended"] == 2
    assert trialwatch.json("subscribers") == []


# -- unsubscribing ------------------------------------------------------------------------------


def test_unsubscribing_by_token_twice_is_not_an_error(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """An unsubscribe link followed twice (a mail program's preview, then the person): the
    second time exits 0 and says there was nothing left."""
    published(replay, NCT)
    trialwatch("subscribe", "pat@example.org", NCT)
    with Store(trialwatch.state_dir / "trialwatch.db") as store:
        person = store.subscriber(email="pat@example.org")
    assert person is not None
    first = trialwatch("unsubscribe", "--token", person.unsubscribe_token)
    assert first.stdout == "1 subscription(s) ended\n"
    second = trialwatch("unsubscribe", "--token", person.unsubscribe_token)
    assert second.stdout == "already unsubscribed: nothing to end\n"
    assert trialwatch("unsubscribe", "pat@example.org").stdout == second.stdout


# -- watch remove -------------------------------------------------------------------------------


def test_watch_remove_keeps_a_followed_trial_unless_forced_and_then_tells_each_subscriber(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """Refused with exit 2 while two people follow the trial (nothing changes); with --force
    the watch stops, their subscriptions end and each gets one plain email saying so."""
    published(replay, NCT, OTHER)
    trialwatch("subscribe", "ana@example.org", NCT, OTHER)
    trialwatch("subscribe", "ben@example.org", NCT)
    refused = trialwatch("watch", "remove", NCT, expect=2)
    assert refused.stderr.count("\n") == 1
    assert f"{NCT} (2 subscribers) still followed" in refused.stderr
    assert "--force" in refused.stderr
    assert len(trialwatch.json("watch", "list")) == 2

    done = trialwatch("watch", "remove", NCT, "--force")
    assert done.stdout == (
        f"{NCT}  no longer watched; 2 subscriber(s) told, their subscription ended\n"
    )
    assert [t["nct_id"] for t in trialwatch.json("watch", "list")] == [OTHER]
    assert [
        (p["email"], [s["nct_id"] for s in p["subscriptions"]])
        for p in trialwatch.json("subscribers")
    ] == [("ana@example.org", [OTHER])]
    trialwatch("deliver")
    told = [m for m in mails(trialwatch) if "no longer watched" in str(m["Subject"])]
    assert sorted(str(m["To"]) for m in told) == ["ana@example.org", "ben@example.org"]
    text = text_of(told[0])
    assert f"has stopped watching {NCT}" in text
    assert "you will get no more emails about it" in text
    assert "What changed" not in text  # a plain notice, not a change email


# -- the trial leaves the registry --------------------------------------------------------------


def test_subscribers_hear_once_when_the_registry_no_longer_has_their_trial(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """A 404 is believed after `failing_after` checks in a row (here 2); then each subscriber
    gets one plain email, however many checks follow."""
    write_config(trialwatch.config, replay.base_url, "[schedule]\nfailing_after = 2\n")
    published(replay, NCT)
    trialwatch("subscribe", "pat@example.org", NCT)
    trialwatch("check")
    replay.registry.remove(NCT)
    trialwatch("check", expect=1)
    assert [m for m in mails(trialwatch) if "no longer on" in str(m["Subject"])] == []
    for _ in range(3):
        trialwatch("check", expect=1)
    gone = [m for m in mails(trialwatch) if "no longer on" in str(m["Subject"])]
    assert len(gone) == 1
    assert str(gone[0]["Subject"]).startswith(f"{NCT} is no longer on ClinicalTrials.gov — ")
    text = text_of(gone[0])
    assert f"ClinicalTrials.gov no longer has a page for {NCT}" in text
    assert f"You still follow {NCT}" in text
    assert gone[0]["List-Unsubscribe"]


def test_a_trial_merged_into_one_already_followed_leaves_one_subscription_and_one_notice(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """The registry merges a duplicate listing into another (301 from the old ID): someone who
    followed both gets one email saying so and keeps one subscription, to the ID that stays."""
    old, new = NCT, OTHER
    published(replay, old, new)
    trialwatch("subscribe", "both@example.org", old, new)
    trialwatch("check")
    merged = copy.deepcopy(demo_versions(new)[-1])
    merged["protocolSection"]["identificationModule"]["nctIdAliases"] = [old]
    replay.registry.remove(old, release=False)
    replay.registry.publish(merged)
    trialwatch("check")
    trialwatch("check")
    told = [m for m in mails(trialwatch) if "is now listed as" in str(m["Subject"])]
    assert len(told) == 1
    assert f"ClinicalTrials.gov now lists this study as {new} (it was {old})" in text_of(told[0])
    (person,) = trialwatch.json("subscribers")
    assert [s["nct_id"] for s in person["subscriptions"]] == [new]


# -- the welcome email --------------------------------------------------------------------------


@pytest.fixture
def published_web(trialwatch: Trialwatch, replay: ReplayServer) -> Trialwatch:
    """The CLI with `[web] base_url` set: links point at the public site."""
    write_config(
        trialwatch.config, replay.base_url, '[web]\nbase_url = "https://trials.example.org"\n'
    )
    return trialwatch


def test_the_welcome_email_has_the_plan_the_whole_trial_the_feed_and_the_way_out(
    published_web: Trialwatch, replay: ReplayServer
) -> None:
    """What they subscribed to and how often, every criterion and the words explained, a
    private feed link that opens a valid feed without the address, and the unsubscribe link."""
    trialwatch = published_web
    published(replay, NCT)
    trialwatch(
        "subscribe", "pat@example.org", NCT, "--digest", "weekly", "--near", "Beijing, China"
    )
    trialwatch("deliver")
    (welcome,) = mails(trialwatch)
    assert str(welcome["Subject"]).startswith(f"{WELCOME} {NCT} — ")
    text = text_of(welcome)
    assert "One email a week with all the changes of that week" in text
    assert "Site changes only near Beijing, China" in text
    assert "Who can join" in text and "Who cannot join" in text
    assert "What these words mean" in text
    with Store(trialwatch.state_dir / "trialwatch.db") as store:
        person = store.subscriber(email="pat@example.org")
    assert person is not None
    feed_url = f"https://trials.example.org/feeds/private/{person.feed_token}.atom"
    assert feed_url in text
    assert f"https://trials.example.org/unsubscribe/{person.unsubscribe_token}" in text
    html = html_of(welcome)
    assert f'<a href="{feed_url}"' in html and ">What you will get</h2>" in html

    feed_file = trialwatch.state_dir / "feeds" / "private" / f"{person.feed_token}.atom"
    feed = feedparser.parse(feed_file.read_bytes())
    assert feed.bozo == 0
    assert {(link.rel, link.href) for link in feed.feed.links} >= {("self", feed_url)}
    assert b"pat@example.org" not in feed_file.read_bytes()


def test_the_welcome_email_without_a_web_address_points_at_the_feed_file(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """No `[web] base_url`: the feed link is the file on this machine, and it is there."""
    published(replay, NCT)
    trialwatch("subscribe", "pat@example.org", NCT)
    trialwatch("deliver")
    (welcome,) = mails(trialwatch)
    link = next(w for w in text_of(welcome).split() if w.startswith("file://"))
    assert Path(link.removeprefix("file://")).is_file()
    assert "To stop these emails" in text_of(welcome)
