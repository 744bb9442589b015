"""The poll cycle against the real replay registry and a real SQLite file: what it asks for.

Request counts come from the replay server's own log, so they are what went over the wire.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import demo_versions

from watcher.core.canonical import content_hash
from watcher.core.version import FirstVersion
from watcher.registry.client import LIGHT_FIELDS, Fetched, RegistryClient
from watcher.registry.replay import RequestLog
from watcher.registry.replay_server import ReplayServer
from watcher.service.poll import CycleReport, RecentVersions, run_cycle
from watcher.store.database import Store

STARTED = demo_versions("NCT06911827")  # NOT_YET_RECRUITING -> RECRUITING, first site
STOPPED = demo_versions("NCT05935098")  # ACTIVE_NOT_RECRUITING -> TERMINATED
OTHER = demo_versions("NCT07227597")
WATCHED = ["NCT05935098", "NCT06911827", "NCT07227597"]
DAY = timedelta(hours=24)
T0 = datetime(2026, 3, 16, 6, 0, tzinfo=UTC)


def cycle(
    store: Store,
    client: RegistryClient,
    at: datetime,
    should_stop: Callable[[], bool] = lambda: False,
) -> CycleReport:
    return run_cycle(store, client, at, full_check_every=DAY, should_stop=should_stop)


def watching_three(store: Store, client: RegistryClient, replay: ReplayServer) -> None:
    """Three trials published, watched and stored once; the request log starts empty."""
    replay.registry.publish(STOPPED[0], STARTED[0], OTHER[0])
    store.add_watches(WATCHED, T0)
    first = cycle(store, client, T0)
    assert first.count("new_version") == 3
    replay.reset_log()


def light_checks(log: list[RequestLog]) -> list[list[str]]:
    """The NCT IDs of each light-field request, in order."""
    return [
        r.query["filter.ids"][0].split(",")
        for r in log
        if r.path.endswith("/studies") and r.query.get("fields") == [LIGHT_FIELDS]
    ]


def full_fetches(log: list[RequestLog]) -> list[str]:
    """The NCT IDs whose whole record was asked for, batched or one by one."""
    fetched: list[str] = []
    for r in log:
        if "fields" in r.query:
            continue
        if r.path.endswith("/studies"):
            fetched += r.query["filter.ids"][0].split(",")
        elif "/studies/" in r.path:
            fetched.append(r.path.rsplit("/", 1)[1])
    return fetched


def versions(store: Store) -> dict[str, int | None]:
    return {t.nct_id: t.current_version for t in store.trials()}


def with_status(record: dict[str, Any], status: str) -> dict[str, Any]:
    """The record as the registry serves it after an automatic status flip: no new update date."""
    flipped = copy.deepcopy(record)
    module = flipped["protocolSection"]["statusModule"]
    module["lastKnownStatus"] = module["overallStatus"]
    module["overallStatus"] = status
    return flipped


def posted(record: dict[str, Any], date: str) -> dict[str, Any]:
    """The record with its update posted on `date`."""
    moved = copy.deepcopy(record)
    moved["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"] = {"date": date}
    return moved


def test_no_new_data_release_costs_one_request(
    store: Store, client: RegistryClient, replay: ReplayServer
) -> None:
    """When the registry has published nothing new, a cycle asks /version and stops there."""
    watching_three(store, client, replay)
    report = cycle(store, client, T0 + timedelta(hours=1))
    assert report.requests == 1
    assert [r.path for r in replay.requests] == ["/api/v2/version"]
    assert report.count("unchanged") == 3 and report.changes == []


def test_a_moved_update_date_fetches_that_trial_alone(
    store: Store, client: RegistryClient, replay: ReplayServer
) -> None:
    """After a release, one light request covers every trial and only the edited one is fetched."""
    watching_three(store, client, replay)
    replay.registry.publish(STARTED[1])  # a new update date, and a new data release

    report = cycle(store, client, T0 + timedelta(hours=1))
    assert light_checks(replay.requests) == [WATCHED]
    assert full_fetches(replay.requests) == ["NCT06911827"]
    assert report.requests == len(replay.requests) == 3  # /version, light fields, one record
    assert {nct_id for nct_id, _ in report.changes} == {"NCT06911827"}
    assert versions(store) == {"NCT05935098": 1, "NCT06911827": 2, "NCT07227597": 1}


def test_a_flip_to_unknown_without_a_new_update_date_is_found(
    store: Store, client: RegistryClient, replay: ReplayServer
) -> None:
    """A trial the registry marks UNKNOWN keeps its update date, and the change is still found."""
    watching_three(store, client, replay)
    flipped = with_status(STOPPED[0], "UNKNOWN")
    replay.registry.publish(flipped)

    report = cycle(store, client, T0 + timedelta(hours=1))
    assert full_fetches(replay.requests) == ["NCT05935098"]
    status = [c for nct_id, c in report.changes if nct_id == "NCT05935098" and c.kind == "status"]
    assert [(c.old, c.new) for c in status] == [("ACTIVE_NOT_RECRUITING", "UNKNOWN")]
    row = store.trial("NCT05935098")
    assert row is not None and (row.current_version, row.overall_status) == (2, "UNKNOWN")


def test_a_new_watch_is_fetched_even_without_a_new_release(
    store: Store, client: RegistryClient, replay: ReplayServer
) -> None:
    """A trial added between releases gets its first version at the next cycle, alone."""
    replay.registry.publish(STOPPED[0], STARTED[0])
    store.add_watches(WATCHED[:2], T0)
    cycle(store, client, T0)
    replay.registry.publish(OTHER[0], release=False)
    store.add_watches(["NCT07227597"], T0)
    replay.reset_log()

    report = cycle(store, client, T0 + timedelta(hours=1))
    assert light_checks(replay.requests) == []
    assert full_fetches(replay.requests) == ["NCT07227597"]
    assert report.requests == 2
    assert versions(store) == {"NCT05935098": 1, "NCT06911827": 1, "NCT07227597": 1}


def test_the_safety_net_checks_every_trial_once_full_check_every_has_passed(
    store: Store, client: RegistryClient, replay: ReplayServer
) -> None:
    """An edit the registry served without a new release is found by the daily full check."""
    watching_three(store, client, replay)
    replay.registry.publish(STARTED[1], release=False)

    early = cycle(store, client, T0 + DAY - timedelta(minutes=1))
    assert early.requests == 1 and early.changes == []

    replay.reset_log()
    late = cycle(store, client, T0 + DAY)
    assert light_checks(replay.requests) == [WATCHED]
    assert full_fetches(replay.requests) == ["NCT06911827"]
    assert {nct_id for nct_id, _ in late.changes} == {"NCT06911827"}

    replay.reset_log()
    after = cycle(store, client, T0 + DAY + timedelta(hours=1))
    assert after.requests == 1  # checked against this release: quiet again


def test_stopping_between_trials_leaves_the_rest_due(
    store: Store, client: RegistryClient, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cycle told to stop stores the trial in hand; the others are fetched by the next one."""
    replay.registry.publish(STOPPED[0], STARTED[0], OTHER[0])
    store.add_watches(WATCHED, T0)
    answered: list[str] = []
    fetch = client.fetch_studies

    def counted(nct_ids: Sequence[str]) -> Iterator[Fetched]:
        for fetched in fetch(nct_ids):
            answered.append(fetched.nct_id)
            yield fetched

    monkeypatch.setattr(client, "fetch_studies", counted)
    stopped = cycle(store, client, T0, should_stop=lambda: len(answered) > 1)
    monkeypatch.undo()
    assert [o.nct_id for o in stopped.outcomes] == ["NCT05935098"]
    assert versions(store) == {"NCT05935098": 1, "NCT06911827": None, "NCT07227597": None}

    replay.reset_log()
    resumed = cycle(store, client, T0 + timedelta(minutes=5))
    assert full_fetches(replay.requests) == ["NCT06911827", "NCT07227597"]
    assert resumed.count("new_version") == 2
    assert versions(store) == {"NCT05935098": 1, "NCT06911827": 1, "NCT07227597": 1}


def test_stopping_during_the_light_check_leaves_the_rest_due(
    store: Store, client: RegistryClient, replay: ReplayServer
) -> None:
    """Trials whose light fields were not looked at before the stop are looked at next cycle."""
    watching_three(store, client, replay)
    replay.registry.release()
    asked = 0

    def after_first() -> bool:
        nonlocal asked
        asked += 1
        return asked > 1

    stopped = cycle(store, client, T0 + timedelta(hours=1), should_stop=after_first)
    assert [o.nct_id for o in stopped.outcomes] == ["NCT05935098"]

    replay.reset_log()
    resumed = cycle(store, client, T0 + timedelta(hours=2))
    assert light_checks(replay.requests) == [WATCHED[1:]]
    assert full_fetches(replay.requests) == []
    assert resumed.count("unchanged") == 3


def test_a_registry_fault_stores_nothing_and_changes_nothing(
    store: Store, client: RegistryClient, replay: ReplayServer
) -> None:
    """A trial the registry fails on keeps its version and stamps, and is fetched again later."""
    watching_three(store, client, replay)
    before = store.trial("NCT06911827")
    replay.registry.publish(STARTED[1])
    replay.registry.fail("500", times=None, nct_id="NCT06911827")

    report = cycle(store, client, T0 + timedelta(hours=1))
    assert [(o.nct_id, o.result) for o in report.outcomes if o.result != "unchanged"] == [
        ("NCT06911827", "failed")
    ]
    assert report.changes == []
    assert store.changes("NCT06911827") == []
    after = store.trial("NCT06911827")
    assert before is not None and after is not None
    assert (after.current_version, after.stamp) == (before.current_version, before.stamp)
    assert (after.consecutive_failures, after.seen_release) == (1, before.seen_release)

    replay.registry.clear_faults()
    replay.reset_log()
    healed = cycle(store, client, T0 + timedelta(hours=2))
    assert full_fetches(replay.requests) == ["NCT06911827"]
    assert {nct_id for nct_id, _ in healed.changes} == {"NCT06911827"}
    assert versions(store)["NCT06911827"] == 2


def test_versions_kept_between_cycles_give_the_changes_a_fresh_read_gives(
    tmp_path: Path, client: RegistryClient, replay: ReplayServer
) -> None:
    """A daemon that keeps the latest versions in memory finds exactly the changes that a
    process reading them back from the database finds, across several new versions."""
    # Back and forth: 3 new versions, each posted later than the one before (an older update
    # date is a stale answer, not a version).
    chain = [
        STARTED[0],
        STARTED[1],
        posted(STARTED[0], "2027-01-01"),
        posted(STARTED[1], "2027-02-01"),
    ]
    found: dict[str, list[list[dict[str, Any]]]] = {}
    for name, recent in (("kept", RecentVersions()), ("read back", None)):
        with Store(tmp_path / f"{name}.db") as store:
            store.add_watches(["NCT06911827"], T0)
            found[name] = []
            for n, record in enumerate(chain):
                replay.registry.publish(record)
                at = T0 + n * DAY
                report = run_cycle(store, client, at, full_check_every=DAY, recent=recent)
                found[name].append([c.to_dict() for _, c in report.changes])
    assert found["kept"] == found["read back"]
    assert [len(changes) > 0 for changes in found["kept"]] == [False, True, True, True]


class _OtherProcessStoresFirst:
    """The registry client, while another process (a second connection to the same database)
    stores a new watch's first version just before the cycle asks for the full records."""

    def __init__(self, client: RegistryClient, database: Path, raw: dict[str, Any]) -> None:
        self.client, self.database, self.raw = client, database, raw

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def fetch_studies(self, nct_ids: Sequence[str]) -> Iterator[Fetched]:
        with Store(self.database) as other:
            first = FirstVersion.of("NCT06911827", self.raw)
            assert other.save_first_versions([first], None, T0) == [first]
        return self.client.fetch_studies(nct_ids)


def test_a_first_version_another_process_stored_meanwhile_is_compared_next_cycle(
    tmp_path: Path, client: RegistryClient, replay: ReplayServer
) -> None:
    """A cold start does not read each new watch's latest version back: when another check
    stored one after this cycle began, this cycle leaves the trial alone (no second version 1,
    no version 2 without a comparison), and the next compares the registry's with it."""
    replay.registry.publish(STARTED[1])
    with Store(tmp_path / "trialwatch.db") as store:
        store.add_watches(["NCT06911827"], T0)
        racing = _OtherProcessStoresFirst(client, tmp_path / "trialwatch.db", STARTED[0])
        report = run_cycle(store, racing, T0, full_check_every=DAY)  # type: ignore[arg-type]
        assert report.count("unchanged") == 1 and report.count("new_version") == 0
        assert versions(store) == {"NCT06911827": 1}
        assert store.version("NCT06911827").content_hash == content_hash(STARTED[0])  # type: ignore[union-attr]
        later = run_cycle(store, client, T0 + 2 * DAY, full_check_every=DAY)
        assert versions(store) == {"NCT06911827": 2}
        assert {c.kind for _, c in later.changes} >= {"status"}
