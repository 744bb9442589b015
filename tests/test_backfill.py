"""`trialwatch backfill` and `watch add --backfill` on recorded version chains, over HTTP.

The replay registry serves each chain's newest version through API v2 and the whole chain
through the history API; the real command line reads it into a real SQLite store. What is
asserted is what a user sees: the versions `history` lists and their order, the dates
`timeline` tells (the registry's, read off the recorded files), the outbox (no email, no
webhook for the past), the feeds, and the one line a trial without a history gets.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from pathlib import Path
from typing import Any

import feedparser
import pytest
from conftest import Trialwatch, version_chains, write_config

from watcher.core.clean import clean_record
from watcher.registry.replay import HISTORY_INDEX, HISTORY_VERSION
from watcher.registry.replay_server import ReplayServer
from watcher.store.database import Store

STARTED = "NCT06911827"  # not yet recruiting → recruiting (actual start 2025-05-09), a site
STOPPED = "NCT06754501"  # recruiting → active, not recruiting; 35 planned → 4 actual
GROWN = "NCT06780137"  # three recordings, the middle one differs only in housekeeping
NO_HISTORY = "NCT00162773"  # published, no chain recorded: the history lists no versions
UNKNOWN = "NCT09999999"  # not in the registry at all: the history API answers 404


def chain_of(nct: str) -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in version_chains()[nct]]


def posted(record: dict[str, Any]) -> str:
    date: str = record["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"]
    return date


def serve(replay: ReplayServer, nct: str, chain: list[dict[str, Any]] | None = None) -> None:
    """Publish the chain's newest version and serve the whole chain as its history."""
    chain = chain or chain_of(nct)
    replay.registry.publish(chain[-1])
    replay.registry.record_history(chain)


def cli(tmp_path: Path, replay: ReplayServer, extra: str = "", name: str = "config") -> Trialwatch:
    """The command line against the replay, history API included, state under tmp_path."""
    config = write_config(
        tmp_path / f"{name}.toml", replay.base_url, f'history_url = "{replay.history_url}"\n{extra}'
    )
    return Trialwatch(tmp_path / "state", config)


def tables(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the backfill writes, without the moments the run happened (fetched_at…)."""
    with sqlite3.connect(database) as db:
        return {
            "versions": db.execute(
                """SELECT nct_id, version, source, last_update_posted, content_hash, codec, raw,
                   registry_version, registry_date FROM versions ORDER BY nct_id, version"""
            ).fetchall(),
            "changes": db.execute(
                """SELECT id, nct_id, from_version, to_version, seq, kind, field, old, new, site,
                   detail, detected_at, sentence, historical FROM changes ORDER BY id"""
            ).fetchall(),
            "backfills": db.execute(
                "SELECT nct_id, last, offset, anchor, next, previous, finished_at IS NOT NULL"
                " FROM backfills ORDER BY nct_id"
            ).fetchall(),
            "trials": db.execute(
                "SELECT nct_id, current_version, brief_title, overall_status, last_update_posted"
                " FROM trials ORDER BY nct_id"
            ).fetchall(),
        }


@pytest.fixture
def trialwatch(tmp_path: Path, replay: ReplayServer) -> Trialwatch:
    return cli(tmp_path, replay)


def test_watch_add_backfill_stores_every_version_in_order_and_timeline_tells_it(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """A trial added with --backfill has its story from its first registered version: the
    versions in the registry's order and numbering, the status periods with their dates."""
    first, second = chain_of(STARTED)
    serve(replay, STARTED)
    out = trialwatch("watch", "add", STARTED, "--backfill").stdout
    assert f"{STARTED}  now watching" in out
    assert f"{STARTED}  2 past versions read: 2 stored, 0 unchanged" in out
    listed = trialwatch.json("history", STARTED)
    assert [
        (v["version"], v["source"], v["registry_version"], v["registry_date"]) for v in listed
    ] == [(1, "history", 0, posted(first)), (2, "history", 1, posted(second))]
    assert [c["kind"] for c in listed[1]["changes"]]  # the changes between them are stored
    story = trialwatch.json("timeline", STARTED)
    assert [(v["version"], v["date"], v["source"]) for v in story["version_dates"]] == [
        (1, posted(first), "history"),
        (2, posted(second), "history"),
    ]
    assert [(p["status"], p["start"], p["start_known"], p["end"]) for p in story["statuses"]] == [
        ("NOT_YET_RECRUITING", posted(first), False, "2025-05-09"),
        ("RECRUITING", "2025-05-09", True, None),
    ]
    text = trialwatch("history", STARTED).stdout
    assert f"v1  history  registry v0 of {posted(first)}" in text


@pytest.mark.slow  # the fast tier keeps four backfill tests
def test_backfill_on_add_reads_the_past_of_every_trial_added(
    tmp_path: Path, replay: ReplayServer
) -> None:
    """`[registry] backfill_on_add = true`: a plain `watch add` backfills, as --backfill does."""
    serve(replay, STARTED)
    trialwatch = cli(tmp_path, replay, "backfill_on_add = true\n")
    added = trialwatch.json("watch", "add", STARTED)
    assert added["added"] == [STARTED] and added["backfill"]["stored"] == 2
    assert [v["source"] for v in trialwatch.json("history", STARTED)] == ["history", "history"]


def test_the_first_check_after_a_backfill_finds_nothing_new(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """The registry's newest version was stored as current: the poll compares with it, and
    stores (and tells) nothing until the registry really changes."""
    serve(replay, STARTED)
    trialwatch("watch", "add", STARTED, "--backfill")
    report = trialwatch.json("check")
    assert (report["checked"], report["unchanged"], report["new_versions"]) == (1, 1, 0)
    assert len(trialwatch.json("history", STARTED)) == 2


def test_past_versions_go_before_the_first_polled_one(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """Polled first, backfilled after: the polled version keeps its number (1) and is matched
    to the registry's version of the same content; the past ones are 0, -1, … and the
    enrollment changes carry the registry's dates."""
    first, second = chain_of(STOPPED)
    serve(replay, STOPPED)
    trialwatch("watch", "add", STOPPED)
    trialwatch("check")
    summary = trialwatch.json("backfill", STOPPED)
    assert (summary["fetched"], summary["stored"], summary["skipped"], summary["failed"]) == (
        2,
        1,
        1,
        0,
    )
    listed = trialwatch.json("history", STOPPED)
    assert [(v["version"], v["source"], v["registry_version"]) for v in listed] == [
        (0, "history", 0),
        (1, "polled", 1),
    ]
    assert listed[1]["changes"]  # from the past version to the polled one
    story = trialwatch.json("timeline", STOPPED)
    assert [(p["status"], p["start"], p["end"]) for p in story["statuses"]] == [
        ("RECRUITING", "2025-04-11", posted(second)),
        ("ACTIVE_NOT_RECRUITING", posted(second), None),
    ]
    assert [(e["date"], e["count"], e["type"]) for e in story["enrollment"]] == [
        (posted(first), 35, "ESTIMATED"),
        (posted(second), 4, "ACTUAL"),
    ]
    diff = trialwatch("diff", STOPPED).stdout  # the latest against the one before it
    assert "35" in diff and "4" in diff


def test_versions_the_same_as_the_one_before_are_not_stored(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """The middle recording differs only in housekeeping: read, passed over, as the poll does."""
    serve(replay, GROWN)
    trialwatch("watch", "add", GROWN)
    summary = trialwatch.json("backfill")
    assert (summary["fetched"], summary["stored"], summary["skipped"]) == (3, 2, 1)
    listed = trialwatch.json("history", GROWN)
    assert [(v["version"], v["registry_version"]) for v in listed] == [(1, 0), (3, 2)]


@pytest.mark.slow  # delivery, feeds or several runs: over a second each
def test_no_email_or_webhook_for_the_past_and_rerunning_adds_nothing(
    tmp_path: Path, replay: ReplayServer
) -> None:
    """A subscriber and a webhook: the backfill queues nothing, a second run sends no request
    and changes no row; the next real change is still told (email and webhook)."""
    chain = chain_of(STOPPED)
    serve(replay, STOPPED, chain)
    hook = '[[webhooks]]\nurl = "http://127.0.0.1:9/hook"\nsecret = "s3cret-s3cret"\n'
    trialwatch = cli(tmp_path, replay, hook)
    trialwatch("subscribe", "pat@example.org", STOPPED)  # looks the trial up: version 1
    database = tmp_path / "state" / "trialwatch.db"

    def outbox() -> list[tuple[str, str]]:
        with sqlite3.connect(database) as db:
            return db.execute("SELECT channel, subject FROM outbox ORDER BY id").fetchall()

    queued = outbox()
    assert [channel for channel, _ in queued] == ["email"]  # the welcome
    trialwatch("backfill")
    assert trialwatch_changes(trialwatch, STOPPED)  # the past brought changes…
    assert outbox() == queued  # …and nobody was told
    before = tables(database)
    replay.reset_log()
    trialwatch("backfill")
    assert tables(database) == before
    assert not [r for r in replay.requests if r.path.startswith("/api/int")]

    newer = copy.deepcopy(chain[-1])
    newer["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = 5
    newer["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] = "2026-03-20"
    replay.registry.publish(newer)
    trialwatch("check")
    assert sorted(channel for channel, _ in outbox()[1:]) == ["email", "webhook"]


@pytest.mark.slow  # delivery, feeds or several runs: over a second each
def test_feeds_list_the_past_only_when_asked(tmp_path: Path, replay: ReplayServer) -> None:
    """`[feeds] include_history` (default false) decides whether the trial's feed lists the
    changes read from its history (at the next check); `history` lists them either way."""
    serve(replay, STARTED)
    listed = {}
    for name, extra in (("quiet", ""), ("loud", "[feeds]\ninclude_history = true\n")):
        (tmp_path / name).mkdir()
        run = cli(tmp_path / name, replay, extra)
        run("watch", "add", STARTED, "--backfill")
        run("check")
        assert trialwatch_changes(run, STARTED)
        feed = tmp_path / name / "state" / "feeds" / "trials" / f"{STARTED}.atom"
        listed[name] = feedparser.parse(feed.read_bytes()).entries
    assert listed["quiet"] == []
    assert len(listed["loud"]) == 1 and STARTED in listed["loud"][0].title


def trialwatch_changes(run: Trialwatch, nct: str) -> list[Any]:
    """Every change `history --json` lists for the trial."""
    return [c for v in run.json("history", nct) for c in v["changes"]]


@pytest.mark.slow  # delivery, feeds or several runs: over a second each
def test_a_trial_without_a_history_is_one_line_and_still_polled(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """An empty history and a 404: one `Error:` line each naming the trial, exit 1 (partial),
    the others backfilled, and every trial still watched and checked."""
    serve(replay, STARTED)
    replay.registry.publish(json.loads(version_chains()[NO_HISTORY][-1].read_text("utf-8")))
    trialwatch("watch", "add", STARTED, NO_HISTORY, UNKNOWN)
    result = trialwatch("backfill", expect=1)
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2
    assert errors[0].startswith(f"Error: {NO_HISTORY}: history not available")
    assert errors[1].startswith(f"Error: {UNKNOWN}: history not available")
    assert all(line.endswith("it is still watched and checked") for line in errors)
    assert f"{STARTED}  2 past versions read" in result.stdout
    watched = trialwatch.json("watch", "list")
    assert {t["nct_id"] for t in watched} >= {STARTED, NO_HISTORY, UNKNOWN}
    report = trialwatch.json("check")
    assert report["checked"] == 3 and report["new_versions"] == 1  # NO_HISTORY's first
    assert [f["nct_id"] for f in report["failed"]] == [UNKNOWN]


@pytest.mark.slow  # the fast tier keeps four backfill tests
def test_an_answer_of_another_shape_is_one_line(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """The history index answers JSON of no shape it has: one line, exit 1, nothing stored;
    the next run, with the registry well again, backfills it."""
    serve(replay, STARTED)
    trialwatch("watch", "add", STARTED)
    replay.registry.fail("other_shape", path=HISTORY_INDEX)
    result = trialwatch("backfill", expect=1)
    assert result.stderr.startswith(f"Error: {STARTED}: history not available")
    assert len(result.stderr.strip().splitlines()) == 1
    assert trialwatch.json("history", STARTED) == []
    assert trialwatch.json("backfill")["stored"] == 2


@pytest.mark.slow  # delivery, feeds or several runs: over a second each
def test_a_backfill_stopped_halfway_resumes_to_the_same_store(
    tmp_path: Path, replay: ReplayServer
) -> None:
    """The registry fails at the fourth version: what was read stays, the rerun reads only the
    rest, and the store ends as an uninterrupted run's (another database, same answers)."""
    chain = synthetic_chain(chain_of(STOPPED)[0], 8)
    serve(replay, STOPPED, chain)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    broken, whole = cli(tmp_path / "a", replay), cli(tmp_path / "b", replay)
    for run in (broken, whole):
        run("watch", "add", STOPPED)
    # The registry answers the newest version (stored first) and three past ones, then 500.
    served = {"versions": 0}
    original = replay.registry.reply

    def failing_after_four(path: str, query: str) -> Any:
        if "/history/" in path:
            served["versions"] += 1
            if served["versions"] > 4:
                replay.registry.fail("500", times=1, path=HISTORY_VERSION)
        return original(path, query)

    replay.registry.reply = failing_after_four  # type: ignore[method-assign]
    failed = broken.json("backfill", expect=1)
    assert failed["failed"] == 1 and failed["stored"] == 4
    replay.registry.reply = original  # type: ignore[method-assign]
    replay.registry.clear_faults()
    replay.reset_log()
    resumed = broken.json("backfill")
    asked = [r.path for r in replay.requests if "/history/" in r.path]
    assert len(asked) == len(chain) - 4  # only the rest
    assert resumed["stored"] == len(chain) - 4
    whole("backfill")
    assert tables(tmp_path / "a" / "state" / "trialwatch.db") == tables(
        tmp_path / "b" / "state" / "trialwatch.db"
    )


def synthetic_chain(record: dict[str, Any], versions: int) -> list[dict[str, Any]]:
    """`versions` versions of a real record, each with another planned size and a later
    posting date, as a long real history would have."""
    chain = []
    for n in range(versions):
        version = copy.deepcopy(record)
        status = version["protocolSection"]["statusModule"]
        status["lastUpdatePostDateStruct"]["date"] = f"2024-{n % 12 + 1:02d}-{n // 12 + 1:02d}"
        version["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = 30 + n
        chain.append(version)
    return chain


@pytest.mark.slow  # the fast tier keeps four backfill tests
@pytest.mark.parametrize("polled_first", [False, True])
def test_every_stored_version_reads_back_as_the_registry_served_it(
    tmp_path: Path, replay: ReplayServer, polled_first: bool
) -> None:
    """Stored as deltas below the anchor (with a repeated version passed over), each version
    reads back as the registry's record, and the numbers follow the registry's."""
    chain = synthetic_chain(chain_of(STOPPED)[0], 8)
    chain[3] = copy.deepcopy(chain[2])  # the registry's version 3 repeats version 2
    serve(replay, STOPPED, chain)
    trialwatch = cli(tmp_path, replay)
    trialwatch("watch", "add", STOPPED)
    if polled_first:
        trialwatch("check")
    trialwatch("backfill")
    listed = trialwatch.json("history", STOPPED)
    first = 1 - 7 if polled_first else 1
    assert [(v["version"], v["registry_version"]) for v in listed] == [
        (first + n, n) for n in (0, 1, 2, 4, 5, 6, 7)
    ]
    with Store(tmp_path / "state" / "trialwatch.db") as store:
        for v in listed:
            assert store.record(STOPPED, v["version"]) == clean_record(chain[v["registry_version"]])
