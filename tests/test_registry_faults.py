"""Nothing lost, doubled or false when the registry misbehaves: hostile text, runaway paging,
stale replicas, incomplete records, aliases, a blind spot of the light fields, an outage.

Everything runs for real: the CLI or the poll cycle, the registry client over a socket against
the replay registry, SQLite, the Maildir and the feed files.
"""

from __future__ import annotations

import copy
import re
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, cast

import feedparser
import pytest
from conftest import Trialwatch
from test_poll import DAY, OTHER, STARTED, STOPPED, T0, WATCHED, full_fetches

from watcher.core.change import Change
from watcher.core.message import Notices
from watcher.core.record import Trial
from watcher.registry.client import RegistryClient
from watcher.registry.replay import with_nct_id
from watcher.registry.replay_server import ReplayServer
from watcher.service.poll import CycleReport, Planner, run_cycle
from watcher.store.database import Store

# What must never reach a header, a feed or a terminal: C0/C1 controls but tab and newline,
# line separators, lone surrogates, XML's non-characters.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
HOSTILE = {
    "CR LF": "\r\nBcc: victim@example.org\r\n",
    "VT FF": "\v\f",
    "U+2028 U+2029": "\u2028\u2029",
    "lone surrogate": "\ud800",
    "NUL and controls": "\x00\x1b[31m\x7f\x85",
}


def delivered(trialwatch: Trialwatch) -> list[EmailMessage]:
    """The emails in the Maildir, as a mail program reads them."""
    parser = BytesParser(policy=policy.default)
    new = trialwatch.state_dir / "maildir" / "new"
    return [cast(EmailMessage, parser.parsebytes(p.read_bytes())) for p in new.iterdir()]


def section(record: dict[str, Any], module: str) -> dict[str, Any]:
    found: dict[str, Any] = record["protocolSection"][module]
    return found


def edited(record: dict[str, Any], module: str, **values: Any) -> dict[str, Any]:
    """A copy of the record with these keys of one protocol module set."""
    changed = copy.deepcopy(record)
    section(changed, module).update(values)
    return changed


def cycle(
    store: Store,
    client: RegistryClient,
    at: datetime,
    *,
    planner: Planner | None = None,
    full_refresh: timedelta | None = None,
) -> CycleReport:
    return run_cycle(
        store, client, at, full_check_every=DAY, planner=planner, full_refresh=full_refresh
    )


def watching(store: Store, client: RegistryClient, replay: ReplayServer) -> None:
    """The three trials published, watched and stored once."""
    replay.registry.publish(STOPPED[0], STARTED[0], OTHER[0])
    store.add_watches(WATCHED, T0)
    assert cycle(store, client, T0).count("new_version") == 3


def failures(report: CycleReport) -> dict[str, str | None]:
    return {o.nct_id: o.error for o in report.outcomes if o.result == "failed"}


# --- one hostile record among others -------------------------------------------------------


@pytest.mark.parametrize(
    "hostile",
    [
        pytest.param(text, id=name, marks=() if name == "CR LF" else pytest.mark.slow)
        for name, text in HOSTILE.items()
    ],
)
def test_a_hostile_title_costs_no_other_trial_its_change_nor_a_feed_its_validity(
    trialwatch: Trialwatch, replay: ReplayServer, hostile: str
) -> None:
    """The other trials' changes are stored and mailed; the hostile one is stored cleaned (or
    failed with a reason); every mail header is one line and every feed parses."""
    replay.registry.publish(STARTED[0], STOPPED[0], OTHER[0])
    trialwatch("watch", "add", *WATCHED)
    trialwatch("subscribe", "reader@example.org", *WATCHED)
    trialwatch("check")
    title = section(OTHER[1], "identificationModule")["briefTitle"]
    bad = edited(OTHER[1], "identificationModule", briefTitle=f"{title}{hostile}Now")
    replay.registry.publish(STARTED[1], STOPPED[1], bad)

    report = trialwatch.json("check")
    assert {"NCT06911827", "NCT05935098"} <= {c["nct_id"] for c in report["changes"]}
    assert report["failed"] == []  # cleaned at the edge, the hostile trial is stored too
    title = {t["nct_id"]: t for t in trialwatch.json("watch", "list")}["NCT07227597"]["title"]
    assert not UNSAFE.search(title) and title.endswith("Now")

    mails = delivered(trialwatch)
    subjects = " ".join(str(m["Subject"]) for m in mails)
    assert "NCT06911827" in subjects or len(mails) >= 2
    for mail in mails:
        assert mail["Bcc"] is None
        for name, value in mail.items():
            assert not UNSAFE.search(f"{name}{value}") and "\n" not in str(value)
        assert not UNSAFE.search(mail.as_string())
    feeds = sorted((trialwatch.state_dir / "feeds").rglob("*.*"))
    assert feeds
    for feed in feeds:
        parsed = feedparser.parse(feed.read_bytes())
        assert parsed.bozo == 0, (feed.name, parsed.get("bozo_exception"))


def test_an_exception_in_one_trials_planning_fails_that_trial_alone(
    store: Store, client: RegistryClient, replay: ReplayServer
) -> None:
    """A planner that raises for one trial (a field of a type the words did not expect, say)
    fails that trial with a one-line reason; the others are stored as usual, and next time
    the trial is fetched again and stored once the fault is gone."""
    watching(store, client, replay)
    replay.registry.publish(STARTED[1], STOPPED[1])
    broken = {"NCT05935098"}

    def planner(
        nct_id: str, version: int, trial: Trial, changes: Sequence[Change], now: datetime
    ) -> Notices:
        if nct_id in broken:
            raise TypeError("unexpected type\nfor a field")
        return Notices(version=version, messages=(), digests=())

    report = cycle(store, client, T0 + DAY, planner=planner)
    assert failures(report) == {
        "NCT05935098": "the record could not be processed (TypeError: unexpected type for a field)"
    }
    assert {n for n, _ in report.changes} == {"NCT06911827"}
    assert store.trial("NCT05935098").current_version == 1  # type: ignore[union-attr]
    row = store.trial("NCT05935098")
    assert row is not None and row.consecutive_failures == 1 and row.last_error

    broken.clear()
    healed = cycle(store, client, T0 + 2 * DAY, planner=planner)
    assert failures(healed) == {}
    assert {n for n, _ in healed.changes} == {"NCT05935098"}


def test_a_record_nested_deep_is_stored_and_one_beyond_reading_fails_alone(
    store: Store, client: RegistryClient, replay: ReplayServer
) -> None:
    """A record whose JSON nests 600 deep is cleaned, hashed and stored like any other (the
    cleaning walks containers only, one frame a level); an answer nested too deep even to read
    fails its trial alone, and the others' changes are stored."""
    watching(store, client, replay)
    deep: Any = "bottom"
    for _ in range(600):
        deep = {"inner": deep}
    replay.registry.publish(STARTED[1], edited(STOPPED[1], "descriptionModule", briefSummary=deep))
    report = cycle(store, client, T0 + DAY)
    assert failures(report) == {}
    assert store.trial("NCT06911827").current_version == 2  # type: ignore[union-attr]
    assert store.trial("NCT05935098").current_version == 2  # type: ignore[union-attr]
    assert store.record("NCT05935098", 2)["protocolSection"]["descriptionModule"] == {
        "briefSummary": deep
    }

    replay.registry.fail("too_deep", times=None, nct_id="NCT05935098")
    replay.registry.publish(OTHER[1])
    report = cycle(store, client, T0 + 2 * DAY)
    assert "not JSON" in (failures(report).get("NCT05935098") or "")
    assert store.trial("NCT07227597").current_version == 2  # type: ignore[union-attr]
    assert store.trial("NCT05935098").current_version == 2  # type: ignore[union-attr]


# --- registry sanity before anything is stored ---------------------------------------------


def test_an_update_date_going_backwards_is_a_stale_answer_not_a_change(
    store: Store, client: RegistryClient, replay: ReplayServer
) -> None:
    """A lagging replica serving the previous version is ignored: no version, no change, no
    failure; the trial stays at the newer version."""
    watching(store, client, replay)
    replay.registry.publish(STOPPED[1])
    assert cycle(store, client, T0 + DAY).changes
    replay.registry.publish(STOPPED[0])  # the older record, served again
    report = cycle(store, client, T0 + 2 * DAY)
    assert report.changes == [] and failures(report) == {}
    assert store.trial("NCT05935098").current_version == 2  # type: ignore[union-attr]
    # A full fetch (a failing trial's, say) of the stale record is ignored the same way.
    store.record_failures([("NCT05935098", "earlier fault")], T0 + 2 * DAY)
    again = cycle(store, client, T0 + 3 * DAY)
    assert again.changes == [] and "NCT05935098" not in failures(again)
    assert len(store.versions("NCT05935098")) == 2


@pytest.mark.parametrize(
    "reduce",
    [
        pytest.param(
            lambda r: {
                "protocolSection": {
                    "identificationModule": {
                        "nctId": r["protocolSection"]["identificationModule"]["nctId"]
                    }
                }
            },
            id="nctId only",
        ),
        pytest.param(
            lambda r: {
                **r,
                "protocolSection": {
                    k: v for k, v in r["protocolSection"].items() if k != "statusModule"
                },
            },
            id="no status module",
        ),
    ],
)
def test_an_incomplete_record_is_a_failure_and_stores_nothing(
    store: Store, client: RegistryClient, replay: ReplayServer, reduce: Any
) -> None:
    """A record without the modules every full record has fails as "incomplete"; nothing is
    stored and nobody hears of a change."""
    watching(store, client, replay)
    replay.registry.publish(reduce(STOPPED[1]))
    report = cycle(store, client, T0 + DAY)
    assert report.changes == []
    assert "incomplete record" in (failures(report).get("NCT05935098") or "")
    assert len(store.versions("NCT05935098")) == 1


def test_a_stale_copy_first_in_a_page_does_not_hide_the_newer_record(
    store: Store, client: RegistryClient, replay: ReplayServer
) -> None:
    """The live record wins over a replica's older copy listed before it in the same page."""
    watching(store, client, replay)
    replay.registry.publish(STOPPED[1])
    replay.registry.stale_copy(STOPPED[0])
    report = cycle(store, client, T0 + DAY)
    assert ("NCT05935098", "status") in {(n, c.kind) for n, c in report.changes}


def test_a_runaway_page_token_fails_the_batch_in_a_bounded_number_of_requests(
    store: Store, client: RegistryClient, replay: ReplayServer
) -> None:
    """Pages that never end cost at most one request per ID asked for; the unanswered trials
    fail, nothing is stored, and the cycle ends."""
    watching(store, client, replay)
    replay.registry.max_page_size = 1
    replay.registry.publish(STOPPED[1], STARTED[1])
    replay.registry.remove("NCT07227597")  # never answered: only the bound ends the paging
    replay.registry.fail("endless_pages", times=None)
    replay.reset_log()
    report = cycle(store, client, T0 + DAY)
    assert "kept paging" in (failures(report).get("NCT07227597") or "")
    assert len(replay.requests) <= 1 + 3 + 2  # /version, 3 light pages, a full fetch of 2
    assert {n for n, _ in report.changes} <= {"NCT05935098", "NCT06911827"}


def test_an_alias_moves_the_watch_and_keeps_the_subscription(
    store: Store, client: RegistryClient, replay: ReplayServer
) -> None:
    """When the registry answers 301 from a watched ID to another, the watch, its history and
    its subscribers move to the new ID, in one cycle and without failing."""
    watching(store, client, replay)
    store.subscribe("reader@example.org", ["NCT07227597"], T0)
    old, new = "NCT07227597", "NCT07227598"
    moved = copy.deepcopy(OTHER[1])
    ident = section(moved, "identificationModule")
    ident["nctId"], ident["nctIdAliases"] = new, [old]
    replay.registry.remove(old, release=False)
    replay.registry.publish(moved)

    report = cycle(store, client, T0 + DAY)
    assert failures(report) == {}
    assert store.trial(old) is None
    row = store.trial(new)
    assert row is not None and row.watched and row.current_version == 2
    assert [v.version for v in store.versions(new)] == [1, 2]
    assert [(who.email, s.nct_id) for who, s in store.subscriptions(nct_id=new)] == [
        ("reader@example.org", new)
    ]
    assert store.subscriptions(nct_id=old) == []
    replay.reset_log()
    replay.registry.release()
    assert failures(cycle(store, client, T0 + 2 * DAY)) == {}
    assert not any(r.status == 301 for r in replay.requests)  # no redirect every cycle


def test_the_subscribers_of_a_moved_trial_are_told_once_in_plain_words(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """A subscriber whose trial the registry now lists under another ID gets one email that
    says so (and that nothing else changes for them), then nothing more about the move."""
    old, new = "NCT07227597", "NCT07227598"
    replay.registry.publish(OTHER[0])
    trialwatch("watch", "add", old)
    trialwatch("subscribe", "reader@example.org", old)
    trialwatch("check")
    moved = copy.deepcopy(OTHER[1])
    ident = section(moved, "identificationModule")
    ident["nctId"], ident["nctIdAliases"] = new, [old]
    replay.registry.remove(old, release=False)
    replay.registry.publish(moved)
    trialwatch("check")
    replay.registry.release()
    trialwatch("check")

    mails = delivered(trialwatch)
    told = [m for m in mails if "is now listed as" in str(m["Subject"])]
    assert len(told) == 1
    assert str(told[0]["Subject"]).startswith(f"{old} is now listed as {new} — ")
    body = told[0].get_body(("plain",))
    assert body is not None
    text = " ".join(body.get_content().split())
    assert f"ClinicalTrials.gov now lists this study as {new} (it was {old})" in text
    assert f"you now follow {new}, and nothing else changes for you" in text


# --- the blind spot of the light fields ----------------------------------------------------


def test_a_change_moving_no_light_field_is_found_within_full_refresh(
    store: Store, client: RegistryClient, replay: ReplayServer
) -> None:
    """A reference added without a new update date or status is found by the rolling full
    refresh within `full_refresh`, at about N/7 full fetches a day, none while nothing is due."""
    week = 7 * DAY
    watching(store, client, replay)
    reference = {"pmid": "12345678", "type": "RESULT", "citation": "A result, 2026."}
    replay.registry.publish(edited(OTHER[0], "referencesModule", references=[reference]))
    fetched: list[int] = []
    found_on = None
    for day in range(1, 8):
        replay.reset_log()
        replay.registry.release()
        report = cycle(store, client, T0 + day * DAY, full_refresh=week)
        fetched.append(
            sum(1 for r in replay.requests if "fields" not in r.query and "/studies" in r.path)
        )
        if report.changes and found_on is None:
            found_on = day
    assert found_on is not None and found_on <= 7
    assert fetched[:3] == [0, 0, 0]  # nothing due in the first half of the period
    assert sum(fetched) <= 3  # one full fetch per trial and week, about N/7 a day


# --- an outage is visible to cron ----------------------------------------------------------


def test_check_exits_1_when_the_registry_cannot_be_reached(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """With the registry down, `check` still prints its report, says why on stderr, exits 1."""
    replay.registry.publish(STARTED[0], STOPPED[0])
    trialwatch("watch", "add", "NCT06911827", "NCT05935098")
    trialwatch("check")
    replay.registry.fail("503", times=None)
    result = trialwatch("check", "--json", expect=1)
    assert '"failed"' in result.stdout
    assert "Error: the registry could not be reached" in result.stderr
    assert "Error: the registry could not be reached" in trialwatch("check", expect=1).stderr
    with sqlite3.connect(trialwatch.state_dir / "trialwatch.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM versions").fetchone() == (2,)


@pytest.mark.slow
def test_the_full_refresh_settles_at_n_over_7_a_day_and_never_leaves_a_trial_a_week(
    store: Store, client: RegistryClient, replay: ReplayServer
) -> None:
    """14 trials added together, hourly cycles for three weeks: no trial goes longer than 7
    days without a full fetch; after the one catch-up of the first week's remainder (day 7),
    two a day, N a week."""
    ids = [f"NCT{90000000 + n:08d}" for n in range(14)]
    replay.registry.publish(*(with_nct_id(STOPPED[1], nct_id) for nct_id in ids))
    store.add_watches(ids, T0)
    cycle(store, client, T0, full_refresh=7 * DAY)
    last = dict.fromkeys(ids, T0)
    per_day = [0] * 21
    at = T0
    while at < T0 + 21 * DAY - timedelta(hours=1):
        at += timedelta(hours=1)
        replay.registry.release()
        replay.reset_log()
        cycle(store, client, at, full_refresh=7 * DAY)
        for nct_id in full_fetches(replay.requests):
            assert at - last[nct_id] <= 7 * DAY
            last[nct_id] = at
            per_day[(at - T0).days] += 1
    assert all(at - seen <= 7 * DAY for seen in last.values())
    assert per_day[:3] == [0, 0, 0] and sum(per_day[3:7]) == 7  # half spread in the first week
    assert per_day[8:] == [2] * 13  # N/7 a day


def test_an_alias_of_a_trial_also_watched_keeps_both_histories(
    store: Store, client: RegistryClient, replay: ReplayServer
) -> None:
    """Watched under both IDs: the alias is unwatched with its own history, its subscribers
    move to the trial it names (one subscription each, not two)."""
    old, new = "NCT07227597", "NCT07227598"
    watching(store, client, replay)
    replay.registry.publish(with_nct_id(OTHER[0], new))
    store.add_watches([new], T0)
    store.subscribe("both@example.org", [old, new], T0)
    store.subscribe("old@example.org", [old], T0)
    cycle(store, client, T0)
    moved = with_nct_id(OTHER[1], new)
    section(moved, "identificationModule")["nctIdAliases"] = [old]
    replay.registry.remove(old, release=False)
    replay.registry.publish(moved)

    assert failures(cycle(store, client, T0 + DAY)) == {}
    gone = store.trial(old)
    assert gone is not None and not gone.watched and len(store.versions(old)) == 1
    assert [v.version for v in store.versions(new)] == [1, 2]
    assert sorted(who.email for who, _ in store.subscriptions(nct_id=new)) == [
        "both@example.org",
        "old@example.org",
    ]
    assert store.subscriptions(nct_id=old) == []
