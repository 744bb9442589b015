"""Private feeds written many at once (`subscribe --file`): each copied from one rendered for a
stand-in token is byte for byte the feed rendered for its own token, whatever the entries, the
token's length or alphabet, and with or without `[web] base_url`; a new one is created readable
by the web server whatever the umask."""

from __future__ import annotations

import os
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from watcher.config import Settings, load_settings
from watcher.core.feeds import Entry
from watcher.delivery.feed_files import FeedWriter, _PrivateFeeds

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ENTRY = Entry(
    "urn:trialwatch:NCT07227597:v2:0123456789abcdef",
    "NCT07227597: now recruiting",
    NOW,
    "https://clinicaltrials.gov/study/NCT07227597",
    "The trial is now recruiting.",
    "<p>The trial is now recruiting.</p>",
)
# An entry that happens to hold the stand-in token: copying would change it, so it is rendered
STAND_IN = Entry(
    "urn:trialwatch:NCT07227597:v3:fedcba9876543210",
    "NCT07227597: a new site",
    NOW,
    "https://clinicaltrials.gov/study/NCT07227597",
    "Site " + "Zq" * 22,
    "<p>Site " + "Zq" * 22 + "</p>",
)


def settings_for(tmp_path: Path, base_url: str | None) -> Settings:
    config = tmp_path / "config.toml"
    config.write_text(f'[web]\nbase_url = "{base_url}"\n' if base_url else "", encoding="utf-8")
    return load_settings(config, env={"STATE_DIRECTORY": str(tmp_path / "state")})


@pytest.mark.parametrize("base_url", [None, "https://trials.example.org/a&b"])
def test_each_copied_feed_is_the_feed_rendered_for_its_own_token(
    tmp_path: Path, base_url: str | None
) -> None:
    settings = settings_for(tmp_path, base_url)
    feeds = _PrivateFeeds(settings, NOW)
    tokens = [secrets.token_urlsafe(32) for _ in range(3)]
    tokens += [secrets.token_urlsafe(16), "a.b+c<d>" * 6, "Zq" * 22, "0123456789abcdef" * 3]
    for items in ([], [ENTRY], [STAND_IN, ENTRY]):
        for token in tokens:
            for kind in ("atom", "rss"):
                copied = feeds.feed(token, kind, items)
                assert copied == feeds._render(token, kind, items), (token, kind, items)
    empty = feedparser.parse(feeds.feed(tokens[0], "atom", []))
    assert empty.bozo == 0 and empty.entries == []
    assert tokens[0] not in empty.feed.id  # the id is a hash of the token, not the token


def test_a_new_feed_is_created_readable_and_an_existing_one_replaced(tmp_path: Path) -> None:
    folder = tmp_path / "private"
    folder.mkdir()
    writer = FeedWriter()
    old = os.umask(0o077)
    try:
        writer.put(folder / "new.atom", b"<feed/>", new=True)
        (folder / "old.atom").write_bytes(b"<old/>")
        writer.put(folder / "old.atom", b"<feed>2</feed>", new=True)
    finally:
        os.umask(old)
    writer.finish()
    assert (folder / "new.atom").read_bytes() == b"<feed/>"
    assert (folder / "old.atom").read_bytes() == b"<feed>2</feed>"
    assert {p.stat().st_mode & 0o777 for p in folder.iterdir()} == {0o644}
    assert sorted(p.name for p in folder.iterdir()) == ["new.atom", "old.atom"]  # no leftovers


def test_a_hundred_new_subscribers_cost_two_renderings_of_their_empty_feed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The point of copying: the stand-ins' two feeds are rendered, nobody's own."""
    feeds = _PrivateFeeds(settings_for(tmp_path, "https://trials.example.org"), NOW)
    rendered: list[str] = []
    render = feeds._render
    monkeypatch.setattr(
        feeds, "_render", lambda token, *rest: rendered.append(token) or render(token, *rest)
    )
    for _ in range(100):
        feeds.feed(secrets.token_urlsafe(32), "atom", [])
    assert rendered == ["Zq" * 21 + "Z", "Wk" * 21 + "W"]


def test_a_writer_left_by_an_error_writes_what_was_put_and_stops(tmp_path: Path) -> None:
    """A writer with a thread of its own (a cold start's), left by a failure to render, still
    writes every file put whole, and leaves no thread waiting behind."""
    with pytest.raises(RuntimeError), FeedWriter(background=True) as writer:
        writer.put(tmp_path / "a.atom", b"<feed/>")
        writer.put(tmp_path / "b.atom", b"<feed>b</feed>", new=True)
        raise RuntimeError("rendering failed")
    assert (tmp_path / "a.atom").read_bytes() == b"<feed/>"
    assert (tmp_path / "b.atom").read_bytes() == b"<feed>b</feed>"
    assert "feed-writer" not in {thread.name for thread in threading.enumerate()}
