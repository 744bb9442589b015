"""A cold start (every watched trial new) stores what one trial at a time would, and leaves every
trial a valid feed, although its keyframes are compressed and its feeds written by threads of
their own while the pages are read (`bench/scale.py` has the figures)."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import feedparser
import orjson
import pytest
from conftest import Trialwatch, publish_clones

from watcher.core import codec
from watcher.core.canonical import content_hash
from watcher.core.clean import clean_record
from watcher.delivery.feed_files import FeedWriter
from watcher.registry.replay_server import ReplayServer
from watcher.service.poll import FIRSTS_PER_COMMIT
from watcher.store.database import Store

# More than a page of first versions, so that keyframes packed for a later page are stored too.
COUNT = FIRSTS_PER_COMMIT + 37


def _publish(replay: ReplayServer) -> dict[str, dict[str, Any]]:
    """COUNT trials cloned from two recorded ones, one with a control character to clean."""
    return publish_clones(replay, COUNT)


def test_a_cold_start_stores_each_record_as_one_at_a_time_would_and_writes_its_feeds(
    trialwatch: Trialwatch, replay: ReplayServer, tmp_path: Path
) -> None:
    """Every first version is the keyframe `codec.encode` makes alone, byte for byte, with the
    content hash of the cleaned record, and reads back as that record; every trial has an Atom
    and an RSS feed a feed reader accepts, named for it, readable by a web server, and no
    temporary file is left beside them."""
    records = _publish(replay)
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(records) + "\n", encoding="utf-8")
    trialwatch("watch", "add", "--file", str(ids))
    answer = trialwatch.json("check")
    assert answer["new_versions"] == COUNT and not answer["failed"]

    with Store(trialwatch.state_dir / "trialwatch.db") as store:
        for nct_id, raw in records.items():
            cleaned = clean_record(raw)
            (row,) = store.versions(nct_id)
            blob = store.db.execute(
                "SELECT codec, raw FROM versions WHERE nct_id = ?", [nct_id]
            ).fetchone()
            assert tuple(blob) == codec.encode(cleaned, None, 0)
            text = orjson.dumps(cleaned, option=orjson.OPT_INDENT_2) + b"\n"
            assert zlib.decompress(blob[1]) == text  # the line form deltas work on
            assert row.content_hash == content_hash(cleaned)
            assert store.record(nct_id, 1) == cleaned
    assert "\x07" not in str(clean_record(records["NCT90000007"]))

    trials = trialwatch.state_dir / "feeds" / "trials"
    assert sorted(p.name for p in trials.iterdir()) == sorted(
        f"{nct_id}.{kind}" for nct_id in records for kind in ("atom", "rss")
    )
    for nct_id in records:
        for kind in ("atom", "rss"):
            path = trials / f"{nct_id}.{kind}"
            feed = feedparser.parse(path.read_bytes())
            assert feed.bozo == 0, feed.get("bozo_exception")
            assert feed.feed.title.startswith(f"{nct_id}: ") and not feed.entries
            assert path.stat().st_mode & 0o777 == 0o644
    title = feedparser.parse((trials / "NCT90000007.atom").read_bytes()).feed.title
    assert title.endswith(" (cleaned)") and "\x07" not in title


def test_a_trial_watched_again_gets_its_old_feed_file_replaced(
    trialwatch: Trialwatch, replay: ReplayServer, tmp_path: Path
) -> None:
    """A new watch's feed is created in place only where no file is: a feed left by an earlier
    watch of the trial is replaced by the trial's feed, as a changed feed always is."""
    records = _publish(replay)
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(records) + "\n", encoding="utf-8")
    trialwatch("watch", "add", "--file", str(ids))
    trials = trialwatch.state_dir / "feeds" / "trials"
    trials.mkdir(parents=True)
    left = trials / "NCT90000003.atom"
    left.write_text("<feed>an earlier watch's feed</feed>", encoding="utf-8")
    trialwatch("check")
    feed = feedparser.parse(left.read_bytes())
    assert feed.bozo == 0 and feed.feed.title.startswith("NCT90000003: ")
    assert sorted(p.name for p in trials.iterdir()) == sorted(
        f"{nct_id}.{kind}" for nct_id in records for kind in ("atom", "rss")
    )


def test_new_watches_whose_feeds_cannot_be_written_are_one_problem_and_all_stored(
    trialwatch: Trialwatch, replay: ReplayServer, tmp_path: Path
) -> None:
    """A feeds folder that cannot be written to fails the feeds, said once, not the poll:
    every first version is stored, and the check exits 1 naming the feeds."""
    records = _publish(replay)
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(records) + "\n", encoding="utf-8")
    trialwatch("watch", "add", "--file", str(ids))
    feeds = trialwatch.state_dir / "feeds"
    feeds.mkdir(parents=True)
    (feeds / "trials").write_text("a file where the feed folder should be", encoding="utf-8")

    failed = trialwatch("check", expect=1)
    assert failed.stderr.count("feeds not written") == 1
    with Store(trialwatch.state_dir / "trialwatch.db") as store:
        stored = store.db.execute("SELECT COUNT(*) FROM versions").fetchone()[0]
    assert stored == COUNT


def test_a_background_writer_writes_whole_files_and_raises_its_error_when_finished(
    tmp_path: Path,
) -> None:
    """What a background `FeedWriter` is given is on disk, whole, once `finish` returns; a file
    it could not write is the error `finish` raises, after the files put before it."""
    writer = FeedWriter(background=True)
    written = [tmp_path / f"feed{i}.atom" for i in range(50)]
    for i, path in enumerate(written):
        writer.put(path, b"<feed>%d</feed>" % i)
    writer.finish()
    assert [p.read_bytes() for p in written] == [b"<feed>%d</feed>" % i for i in range(50)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)

    broken = FeedWriter(background=True)
    broken.put(tmp_path / "first.atom", b"<feed/>")
    broken.put(tmp_path / "no such folder" / "x.atom", b"<feed/>")
    with pytest.raises(FileNotFoundError):
        broken.finish()
    assert (tmp_path / "first.atom").read_bytes() == b"<feed/>"
