"""Feeds as a feed reader sees them: valid, one entry per change event, escaped, private."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import feedparser
import pytest
from conftest import Trialwatch, demo_versions
from hypothesis import given
from hypothesis import strategies as st

from watcher.config import Settings, load_settings
from watcher.core import feeds
from watcher.core.canonical import content_hash
from watcher.core.diff import diff_trials
from watcher.core.feeds import Entry, FeedInfo, atom, rss
from watcher.core.record import parse_trial
from watcher.core.version import NewVersion
from watcher.data.gazetteer import load_gazetteer
from watcher.delivery.feed_files import private_feed_path, trial_feed_path, write_feeds
from watcher.registry.replay_server import ReplayServer
from watcher.store.database import Store

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
NCT = "NCT06911827"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(None, env={"STATE_DIRECTORY": str(tmp_path / "state")})


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    with Store(settings.storage.database) as opened:
        yield opened


def store_chain(store: Store, nct_id: str, versions: list[dict[str, Any]]) -> None:
    """Store versions the way a poll does, with a sentence per change."""
    store.add_watches([nct_id], T0)
    previous = None
    for n, raw in enumerate(versions):
        changes = diff_trials(parse_trial(previous), parse_trial(raw)) if previous else []
        sentences = [f"Sentence for {c.kind}: {c.new}" for c in changes]
        at = T0 + timedelta(days=n)
        new = NewVersion.of(nct_id, raw, content_hash(raw), changes, sentences)
        store.save_version(new, previous, None, at)
        previous = raw


def parsed(path: Path) -> Any:
    feed = feedparser.parse(path.read_bytes())
    assert feed.bozo == 0, feed.get("bozo_exception")
    return feed


def test_each_change_event_is_one_valid_entry_with_stable_unique_ids(
    store: Store, settings: Settings
) -> None:
    """Atom and RSS both parse cleanly; each version with changes is one entry, ids unique."""
    first, second = demo_versions(NCT)
    third = copy.deepcopy(first)  # the trial goes back: a revision must not reuse an entry id
    store_chain(store, NCT, [first, second, third])
    write_feeds(store, settings, T0 + timedelta(days=3))
    for kind in ("atom", "rss"):
        feed = parsed(trial_feed_path(settings, NCT, kind))
        ids = [e.id for e in feed.entries]
        assert len(ids) == 2 == len(set(ids))
        assert ":v3:" in ids[0] and ":v2:" in ids[1]  # newest first
        assert "Sentence for status: RECRUITING" in feed.entries[1].summary
        assert "NOT_YET_RECRUITING → RECRUITING" in feed.entries[1].summary
    again = trial_feed_path(settings, NCT).read_bytes()
    write_feeds(store, settings, T0 + timedelta(days=9))
    assert trial_feed_path(settings, NCT).read_bytes() == again  # nothing new, same feed


def test_trial_text_is_escaped(store: Store, settings: Settings) -> None:
    """A title with <script> and & arrives as text, never as markup."""
    first, second = demo_versions(NCT)
    second = copy.deepcopy(second)
    ident = second["protocolSection"]["identificationModule"]
    ident["briefTitle"] = "Drug A & B <script>alert(1)</script>"
    store_chain(store, NCT, [first, second])
    write_feeds(store, settings, T0)
    raw = trial_feed_path(settings, NCT).read_text(encoding="utf-8")
    assert "<script>" not in raw
    feed = parsed(trial_feed_path(settings, NCT))
    assert feed.feed.title == "NCT06911827: Drug A & B <script>alert(1)</script>"  # as text
    html = feed.entries[0].content[0].value
    assert "Drug A &amp; B &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html


def test_feeds_are_utf8_documents_that_keep_every_character(tmp_path: Path) -> None:
    """A title in French with a ≥ reaches the reader as written, in both formats."""
    title = "NCT06911827: Étude ≥ 18 ans — phase 2 & <suite>"
    info = FeedInfo("urn:trialwatch:feed:x", title, "Changes", "https://clinicaltrials.gov/")
    for render in (atom, rss):
        document = render(info, [], T0)
        assert document.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n")
        path = tmp_path / render.__name__
        path.write_bytes(document)
        assert parsed(path).feed.title == title


FEED_TEXT = st.text(
    st.sampled_from(["a", " ", "&", "<", ">", '"', "'", "]", "\n", "\t", "\r", "é", "→"])
)


def _elementtree_markup(root: ET.Element, out: list[str], declared: str = "") -> None:
    """What `_document` wrote before it had a writer of its own: ElementTree's."""
    out.append(ET.tostring(root, encoding="unicode"))


@given(title=FEED_TEXT, text=FEED_TEXT, url=FEED_TEXT)
def test_feeds_are_the_bytes_elementtree_writes(title: str, text: str, url: str) -> None:
    """Atom and RSS, with and without entries and a self link, are the very bytes ElementTree's
    own writer makes of them: a reader, and a feed left unchanged on disk, see no difference.
    So are they when their entries are written out once for every feed that shows them
    (`written`), an entry first the last of its feed and then not, or the other way round."""
    written: feeds.Written = {}
    for self_url in (None, f"https://trials.example.org/feeds/{url}"):
        info = FeedInfo(
            "urn:trialwatch:feed:x", title, f"{text} & more", f"https://c.org/{url}", self_url
        )
        items = [
            Entry(f"urn:e:{url}", title, T0, f"https://l.org/?q={url}", text, f"<p>{text}</p>"),
            Entry("urn:e:2", text, T0 - timedelta(days=1), "https://l.org/", title, f"<b>{url}"),
        ]
        for render in (atom, rss):
            for shown in ([], items[:1], items, items[1:]):
                with pytest.MonkeyPatch.context() as patch:
                    patch.setattr(feeds, "_markup", _elementtree_markup)
                    theirs = render(info, shown, T0)
                assert render(info, shown, T0) == theirs
                assert render(info, shown, T0, written) == theirs


def test_private_feed_follows_subscriptions_and_holds_no_address(
    store: Store, settings: Settings
) -> None:
    """A subscriber's feed sits at their random token, shows their trials only, no address."""
    store_chain(store, NCT, demo_versions(NCT))
    store_chain(store, "NCT05935098", demo_versions("NCT05935098"))
    person = store.subscribe(
        "pat@example.org", [NCT], T0, near=load_gazetteer().resolve("Guangzhou, China")
    ).subscriber
    written = write_feeds(store, settings, T0)
    path = private_feed_path(settings, person.feed_token)
    assert path in written and len(person.feed_token) >= 40
    feed = parsed(path)
    assert [e.id.split(":")[2] for e in feed.entries] == [NCT]
    everything = b"".join(p.read_bytes() for p in written)
    assert b"pat@example.org" not in everything
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in written)  # the web server reads them
    assert path.parent.stat().st_mode & 0o777 == 0o711  # and cannot list the private names


def test_feeds_a_failed_write_left_behind_are_rewritten_by_the_next_check(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """A check whose feeds cannot be written says so and exits 1; the next check, with nothing
    new from the registry, writes the feed with the change it missed."""
    started = demo_versions(NCT)
    replay.registry.publish(started[0])
    trialwatch("watch", "add", NCT)
    trialwatch("check")
    feeds = trialwatch.state_dir / "feeds"
    (feeds / "trials" / f"{NCT}.atom").unlink()
    blocker = feeds / "trials"
    blocker.rename(feeds / "trials.kept")
    blocker.write_text("a file where the feed directory should be", encoding="utf-8")

    replay.registry.publish(started[1])
    failed = trialwatch("check", expect=1)
    assert "feeds not written" in failed.stderr
    assert "new version v2" in failed.stdout

    blocker.unlink()
    healed = trialwatch("check")
    assert "0 new version(s)" in healed.stdout
    feed = parsed(feeds / "trials" / f"{NCT}.atom")
    assert len(feed.entries) == 1
    assert "started looking for people" in feed.entries[0].title


def _links(feed: Any) -> set[tuple[str, str]]:
    return {(link.rel, link.href) for link in feed.feed.get("links", [])}


def test_feeds_name_their_own_address_and_their_page_when_published(tmp_path: Path) -> None:
    """With `[web] base_url`, each Atom and RSS feed has rel="self" at its public URL and
    rel="alternate" at the page it follows; a feed reader sees both."""
    config = tmp_path / "config.toml"
    config.write_text('[web]\nbase_url = "https://trials.example.org/"\n', encoding="utf-8")
    settings = load_settings(config, env={"STATE_DIRECTORY": str(tmp_path / "state")})
    with Store(settings.storage.database) as store:
        store_chain(store, NCT, demo_versions(NCT))
        person = store.subscribe("pat@example.org", [NCT], T0).subscriber
        write_feeds(store, settings, T0)
    base = "https://trials.example.org/feeds"
    page = f"https://clinicaltrials.gov/study/{NCT}"
    for kind in ("atom", "rss"):
        trial = parsed(trial_feed_path(settings, NCT, kind))
        assert _links(trial) >= {("self", f"{base}/trials/{NCT}.{kind}"), ("alternate", page)}
        everything = parsed(settings.feeds.dir / f"all.{kind}")
        assert ("self", f"{base}/all.{kind}") in _links(everything)
        private = parsed(private_feed_path(settings, person.feed_token, kind))
        assert ("self", f"{base}/private/{person.feed_token}.{kind}") in _links(private)


def test_feeds_without_a_web_address_have_no_self_link(store: Store, settings: Settings) -> None:
    """Nothing published: no made-up self URL, the alternate page is still there."""
    store_chain(store, NCT, demo_versions(NCT))
    write_feeds(store, settings, T0)
    feed = parsed(trial_feed_path(settings, NCT))
    assert [rel for rel, _ in _links(feed)] == ["alternate"]


def test_feed_files_are_readable_by_a_web_server_whatever_the_umask(
    store: Store, settings: Settings
) -> None:
    """Under systemd's UMask=0077 the files are still 0644 and the folders 0755, the private
    folder 0711: another user can read a private feed by name but cannot list the names."""
    store_chain(store, NCT, demo_versions(NCT))
    store.subscribe("pat@example.org", [NCT], T0)
    old = os.umask(0o077)
    try:
        written = write_feeds(store, settings, T0)
    finally:
        os.umask(old)
    assert {p.stat().st_mode & 0o777 for p in written} == {0o644}
    root = settings.feeds.dir
    assert (root.stat().st_mode & 0o777, (root / "trials").stat().st_mode & 0o777) == (
        0o755,
        0o755,
    )
    assert (root / "private").stat().st_mode & 0o777 == 0o711


def test_feeds_of_named_trials_are_written_for_the_watched_ones_only(
    store: Store, settings: Settings
) -> None:
    """Named trials (a check's changed ones) get their feeds when watched; one no longer
    watched, or never watched, gets none."""
    first, _ = demo_versions(NCT)
    store_chain(store, NCT, [first])
    store.add_watches(["NCT05935098"], T0)
    store.remove_watches(["NCT05935098"])
    written = write_feeds(store, settings, T0, ["NCT05935098", "NCT00000000", NCT])
    trials = sorted(p.name for p in written if p.parent.name == "trials")
    assert trials == [f"{NCT}.atom", f"{NCT}.rss"]
    assert not trial_feed_path(settings, "NCT05935098").exists()
