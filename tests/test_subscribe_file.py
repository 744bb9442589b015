"""`subscribe --file`: a subscribers CSV through the real command line and the replay registry
over HTTP. Every line subscribes as one `subscribe` would, in one go; a file with a bad line is
refused whole, naming each bad line; the output names no address; each new subscriber's feed
link opens a valid feed from the first minute, while the feeds nobody's subscription changes
are left alone."""

from __future__ import annotations

import mailbox
import re
from email import policy
from email.parser import BytesParser
from pathlib import Path

import feedparser
import httpx
import pytest
from conftest import Trialwatch, demo_versions, write_config
from web_server import start_web

from watcher.delivery.feed_files import ASIDE_FROM
from watcher.registry.replay_server import ReplayServer

TRIALS = ("NCT07227597", "NCT06911827", "NCT05294952")


def published(replay: ReplayServer) -> None:
    replay.registry.publish(*(demo_versions(n)[0] for n in TRIALS))


def csv_file(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / "subscribers.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.mark.slow  # reads the gazetteer, writes feeds, builds welcome emails: seconds
def test_every_line_is_subscribed_with_its_options_and_welcomed(
    trialwatch: Trialwatch, replay: ReplayServer, tmp_path: Path
) -> None:
    published(replay)
    path = csv_file(
        tmp_path,
        "email,trials,audience,digest,kinds,near",
        f"ann@example.org,{TRIALS[0]} {TRIALS[1]},coordinator,daily,,",
        f"Bob@Example.org,{TRIALS[2]},,,status,China",
        f"bob@example.org,{TRIALS[0]},,weekly,,",  # the same mailbox: one subscriber
        "",
    )
    result = trialwatch("subscribe", "--file", path)
    assert result.stdout == (
        "subscribers.csv: 3 lines, 4 new subscriptions (welcome emails queued), "
        "0 already subscribed; 3 trials now watched\n"
    )
    assert "@" not in result.stdout + result.stderr
    # three unstored trials, asked of the registry in one batch, not one request each
    assert [r.path for r in replay.requests] == ["/api/v2/studies"]
    people = {p["email"]: p["subscriptions"] for p in trialwatch.json("subscribers")}
    assert sorted(people) == ["Bob@Example.org", "ann@example.org"]
    ann = {s["nct_id"]: s for s in people["ann@example.org"]}
    assert {s["audience"] for s in ann.values()} == {"coordinator"}
    assert {s["delivery"] for s in ann.values()} == {"daily"}
    bob = {s["nct_id"]: s for s in people["Bob@Example.org"]}
    assert bob[TRIALS[2]]["kinds"] == ["status"] and bob[TRIALS[2]]["near"] == "China"
    assert bob[TRIALS[0]]["delivery"] == "weekly"
    assert trialwatch.json("status")["outbox"]["pending"] == 4


def test_a_file_with_bad_lines_is_refused_whole_naming_each_line(
    trialwatch: Trialwatch, replay: ReplayServer, tmp_path: Path
) -> None:
    published(replay)
    path = csv_file(
        tmp_path,
        "email,trials,audience",
        f"ann@example.org,{TRIALS[0]},patient",
        f"not-an-address,{TRIALS[0]},patient",
        "cy@example.org,NCT123,patient",
        f"dee@example.org,{TRIALS[1]},nurse",
    )
    result = trialwatch("subscribe", "--file", path, expect=2)
    lines = result.stderr.splitlines()
    assert lines[0] == "Error: nothing was subscribed: 3 lines refused; fix them and run again"
    assert [line.split(":")[0] for line in lines[1:]] == [
        "subscribers.csv line 3",
        "subscribers.csv line 4",
        "subscribers.csv line 5",
    ]
    assert "NCT123" in lines[2] and "nurse" in lines[3]
    assert replay.requests == []  # refused before anything was asked or written
    assert trialwatch.json("subscribers") == []
    assert trialwatch.json("watch", "list") == []


def test_a_trial_the_registry_lacks_refuses_the_file_naming_its_lines(
    trialwatch: Trialwatch, replay: ReplayServer, tmp_path: Path
) -> None:
    published(replay)
    path = csv_file(
        tmp_path,
        "email,trials",
        f"ann@example.org,{TRIALS[0]}",
        f"bob@example.org,{TRIALS[1]} NCT07227590",
    )
    result = trialwatch("subscribe", "--file", path, expect=2)
    assert result.stderr.splitlines()[1] == (
        "subscribers.csv line 3: NCT07227590: ClinicalTrials.gov has no such trial (404); "
        "check the NCT ID"
    )
    assert trialwatch.json("subscribers") == []


def test_a_header_without_the_required_columns_is_refused(
    trialwatch: Trialwatch, tmp_path: Path
) -> None:
    path = csv_file(tmp_path, "address,trials", "ann@example.org,NCT07227597")
    result = trialwatch("subscribe", "--file", path, expect=2)
    assert result.stderr == (
        "Error: subscribers.csv line 1: the header row lacks email; expected email,trials "
        "and any of audience,digest,kinds,near,within\n"
    )


def test_file_and_arguments_together_are_refused(trialwatch: Trialwatch, tmp_path: Path) -> None:
    path = csv_file(tmp_path, "email,trials", "ann@example.org,NCT07227597")
    result = trialwatch("subscribe", "ann@example.org", "--file", path, expect=2)
    assert result.stderr == "Error: --file takes everything from its columns; drop EMAIL\n"


SITE = "https://trials.example.org"


def feed_links(state_dir: Path) -> dict[str, str]:
    """Each delivered welcome's private feed link, by recipient."""
    box = mailbox.Maildir(state_dir / "maildir", create=False)
    links = {}
    for key in box.iterkeys():
        message = BytesParser(policy=policy.default).parsebytes(box.get_bytes(key))
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        (link,) = set(re.findall(rf"{SITE}/feeds/private/\S+\.atom", text))
        links[str(message["To"])] = link
    return links


@pytest.mark.slow  # builds welcome emails and serves the feeds from a `trialwatch serve`
def test_each_new_subscriber_s_feed_link_opens_an_empty_feed_and_other_feeds_are_left_alone(
    trialwatch: Trialwatch, replay: ReplayServer, tmp_path: Path
) -> None:
    write_config(
        trialwatch.config,
        replay.base_url,
        f'[web]\nbase_url = "{SITE}"\nlisten = "127.0.0.1:0"\n',
    )
    published(replay)
    trialwatch("subscribe", "old@example.org", TRIALS[0])
    feeds = trialwatch.state_dir / "feeds"
    before = {p: p.read_bytes() for p in feeds.glob("*/*") if p.is_file()}
    assert len(before) == 4  # the trial's pair, the subscriber's private pair
    path = csv_file(
        tmp_path,
        "email,trials",
        f"ann@example.org,{TRIALS[0]}",
        f"bob@example.org,{TRIALS[0]} {TRIALS[1]}",
    )
    trialwatch("subscribe", "--file", path)
    # new followers change neither the trial's feed nor the private feed of its old follower
    assert {p: p.read_bytes() for p in before} == before
    assert (feeds / "trials" / f"{TRIALS[1]}.atom").is_file()  # watched now: its feed exists

    trialwatch("deliver")
    links = feed_links(trialwatch.state_dir)
    assert sorted(links) == ["ann@example.org", "bob@example.org", "old@example.org"]
    with start_web(trialwatch.config, trialwatch.state_dir) as server:
        for who in ("ann@example.org", "bob@example.org"):
            local = links[who].replace(SITE, server.url)
            answer = httpx.get(local, timeout=10)
            assert answer.status_code == 200, who
            feed = feedparser.parse(answer.content)
            assert feed.bozo == 0 and feed.version == "atom10" and feed.entries == []
            assert {(link.rel, link.href) for link in feed.feed.links} >= {("self", links[who])}
            for kind, version in (("atom", "atom10"), ("rss", "rss20")):
                name = links[who].rsplit("/", 1)[1].replace(".atom", f".{kind}")
                on_disk = feedparser.parse((feeds / "private" / name).read_bytes())
                assert on_disk.bozo == 0 and on_disk.version == version
                assert on_disk.entries == []
                assert who.encode() not in (feeds / "private" / name).read_bytes()


@pytest.mark.slow  # builds 110 welcome emails, delivers them and serves their feeds
def test_a_large_file_s_new_subscribers_each_get_a_feed_link_that_opens_their_feed(
    trialwatch: Trialwatch, replay: ReplayServer, tmp_path: Path
) -> None:
    """Enough new subscribers that their feeds are written beside their welcomes, by a child
    process (`NewPrivateFeeds`): each link in a welcome opens that subscriber's own feed, both
    formats are on disk, readable by the web server, and nothing else is in the folder."""
    write_config(
        trialwatch.config,
        replay.base_url,
        f'[web]\nbase_url = "{SITE}"\nlisten = "127.0.0.1:0"\n',
    )
    published(replay)
    people = [f"reader{n}@example.org" for n in range(ASIDE_FROM + 10)]
    lines = [f"{who},{TRIALS[n % 3]}" for n, who in enumerate(people)]
    trialwatch("subscribe", "--file", csv_file(tmp_path, "email,trials", *lines))
    private = trialwatch.state_dir / "feeds" / "private"
    assert private.stat().st_mode & 0o777 == 0o711
    files = sorted(private.iterdir())
    assert len(files) == 2 * len(people)
    assert {path.stat().st_mode & 0o777 for path in files} == {0o644}

    trialwatch("deliver")
    links = feed_links(trialwatch.state_dir)
    assert sorted(links) == sorted(people)
    with start_web(trialwatch.config, trialwatch.state_dir) as server:
        for who, link in links.items():
            answer = httpx.get(link.replace(SITE, server.url), timeout=10)
            assert answer.status_code == 200, who
            feed = feedparser.parse(answer.content)
            assert feed.bozo == 0 and feed.version == "atom10", who
            assert ("self", link) in {(x.rel, x.href) for x in feed.feed.links}
            rss = private / link.rsplit("/", 1)[1].replace(".atom", ".rss")
            assert feedparser.parse(rss.read_bytes()).version == "rss20", who
