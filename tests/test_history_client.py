"""The history client against the replay registry over HTTP: every past version of a trial.

The replay serves the site's internal history API from recorded version chains (the fixture
files holding several real versions of one trial); the real `HistoryClient` reads it, with the
waiting injected as in test_registry.py, so retries and the shared rate limit are checked by
the waits they ask for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURE_DIRS, TESTS
from test_registry import USER_AGENT, FakeTime

from watcher.config import load_settings
from watcher.errors import HistoryUnavailable, RegistryUnavailable
from watcher.registry.client import RegistryClient
from watcher.registry.history import HistoryClient, HistoryEntry
from watcher.registry.ratelimit import TokenBucket
from watcher.registry.replay import (
    HISTORY_INDEX,
    HISTORY_VERSION,
    MODULE_LABELS,
    ReplayRegistry,
    load_records,
)
from watcher.registry.replay_server import ReplayServer

CHAINS: dict[str, list[dict[str, Any]]] = {}
for _folder in FIXTURE_DIRS:
    for _nct, _versions in load_records(_folder).items():
        CHAINS.setdefault(_nct, []).extend(_versions)
# Recruiting again after a pause, eligibility rewritten, sites moved: three real versions.
REOPENED = "NCT06203210"
# Not yet recruiting, then recruiting with new arms, outcomes and criteria (the demo's trial).
STARTED = "NCT07227597"
NO_HISTORY = "NCT00465816"  # published, but no chain recorded: its history lists no versions
UNKNOWN = "NCT09999999"  # not in the registry at all
EXCERPT = TESTS / "fixtures" / "ctgov" / "history-endpoint"


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    registry = ReplayRegistry(
        {n: CHAINS[n][-1] for n in (REOPENED, STARTED, NO_HISTORY)},
    )
    registry.record_history(CHAINS[REOPENED])
    registry.record_history(CHAINS[STARTED])
    with ReplayServer(registry) as running:
        yield running


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


Connect = Callable[..., HistoryClient]


@pytest.fixture
def connect(server: ReplayServer, fake: FakeTime) -> Iterator[Connect]:
    clients: list[HistoryClient] = []

    def make(**options: Any) -> HistoryClient:
        settings: dict[str, Any] = {
            "user_agent": USER_AGENT,
            "timeout_s": 2.0,
            "requests_per_minute": 0,
            "max_retries": 2,
            "sleep": fake.sleep,
            "clock": fake.clock,
            "jitter": lambda: 1.0,
            **options,
        }
        client = HistoryClient(server.history_url, **settings)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def test_index_lists_every_recorded_version_with_its_date_status_and_changed_parts(
    connect: Connect,
) -> None:
    assert connect().history_index(REOPENED) == (
        HistoryEntry(0, "2026-01-20", "ACTIVE_NOT_RECRUITING", ()),
        HistoryEntry(
            1, "2026-02-09", "RECRUITING", ("Study Status", "Eligibility", "Contacts/Locations")
        ),
        HistoryEntry(2, "2026-03-02", "RECRUITING", ("Study Status", "Contacts/Locations")),
    )


def test_a_status_change_and_new_arms_are_labelled_as_the_site_labels_them(
    connect: Connect,
) -> None:
    first, started = connect().history_index(STARTED)
    assert (first.status, started.status) == ("NOT_YET_RECRUITING", "RECRUITING")
    assert started.module_labels == (
        "Study Status",
        "Arms and Interventions",
        "Outcome Measures",
        "Eligibility",
        "Contacts/Locations",
        "References",
    )


def test_each_date_is_the_date_the_version_was_posted(connect: Connect) -> None:
    index = connect().history_index(STARTED)
    posted = [
        r["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"]
        for r in CHAINS[STARTED]
    ]
    assert [e.date for e in index] == posted


def test_every_version_comes_back_exactly_as_recorded(connect: Connect) -> None:
    client = connect()
    for nct_id in (REOPENED, STARTED):
        index = client.history_index(nct_id)
        fetched = [client.history_version(nct_id, e.version) for e in index]
        assert fetched == CHAINS[nct_id]
    assert client.request_count == 2 + 3 + 2  # one index, then one request per version


def test_the_replay_answers_in_the_shape_of_the_real_excerpt(server: ReplayServer) -> None:
    real = json.loads(next(EXCERPT.glob("*.json")).read_text(encoding="utf-8"))
    real_changes = real["history"]["changes"]
    served = ReplayRegistry()
    served.record_history(CHAINS[REOPENED])
    ours = json.loads(served.reply(f"/api/int/studies/{REOPENED}", "history=true").body)
    assert [set(c) for c in ours["history"]["changes"]] == [set(real_changes[0])] * 3
    real_labels = {label for c in real_changes for label in c["moduleLabels"]}
    assert real_labels <= set(MODULE_LABELS.values())
    assert real_changes[0]["moduleLabels"] == []  # version 0 changed nothing, as ours


@pytest.mark.parametrize(
    ("nct_id", "version", "reason"),
    [
        (UNKNOWN, None, "the registry has no history of it (404)"),
        (NO_HISTORY, None, "the registry lists no versions of it"),
        (REOPENED, 3, "the registry has no version 3 of it (404)"),
    ],
    ids=["404", "empty changes", "no such version"],
)
def test_a_trial_without_that_history_is_one_line_naming_it(
    connect: Connect, nct_id: str, version: int | None, reason: str
) -> None:
    client = connect()
    with pytest.raises(HistoryUnavailable) as raised:
        if version is None:
            client.history_index(nct_id)
        else:
            client.history_version(nct_id, version)
    assert str(raised.value) == f"{nct_id}: history not available: {reason}"
    assert raised.value.nct_id == nct_id


@pytest.mark.parametrize(
    ("fault", "path", "reason"),
    [
        ("other_shape", HISTORY_INDEX, "the answer has no history.changes list"),
        ("other_shape", HISTORY_VERSION, "the answer for version 1 is not that version"),
        (
            "invalid_json",
            HISTORY_INDEX,
            "the registry answered 200 OK with a body that is not JSON (text/html) 3 times; "
            "will retry next cycle",
        ),
    ],
    ids=["index of another shape", "version of another shape", "garbage"],
)
def test_an_answer_of_another_shape_is_one_line_naming_the_trial(
    server: ReplayServer, connect: Connect, fault: str, path: str, reason: str
) -> None:
    server.registry.fail(fault, times=None, path=path)
    client = connect()
    with pytest.raises(HistoryUnavailable) as raised:
        if path == HISTORY_INDEX:
            client.history_index(STARTED)
        else:
            client.history_version(STARTED, 1)
    message = str(raised.value)
    assert message == f"{STARTED}: history not available: {reason}"
    assert "\n" not in message


def test_a_busy_registry_is_retried_with_backoff_then_answers(
    server: ReplayServer, connect: Connect, fake: FakeTime
) -> None:
    server.registry.fail("503", times=2, path=HISTORY_VERSION, nct_id=REOPENED)
    assert connect().history_version(REOPENED, 0) == CHAINS[REOPENED][0]
    assert fake.slept == [1.0, 2.0]


def test_a_registry_that_stays_down_is_unavailable_not_a_missing_history(
    server: ReplayServer, connect: Connect
) -> None:
    server.registry.fail("500", times=None, path=HISTORY_INDEX)
    with pytest.raises(RegistryUnavailable) as raised:
        connect().history_index(REOPENED)
    assert not isinstance(raised.value, HistoryUnavailable)
    assert str(raised.value).startswith(f"{REOPENED}: the registry answered 500")


def test_history_and_v2_requests_share_one_politeness_limit(
    server: ReplayServer, connect: Connect, fake: FakeTime
) -> None:
    bucket = TokenBucket(60, 1, fake.clock, fake.sleep)  # one request a second
    with RegistryClient(
        server.base_url,
        user_agent=USER_AGENT,
        timeout_s=2.0,
        requests_per_minute=60,
        bucket=bucket,
    ) as v2:
        history = connect(bucket=v2.bucket)
        v2.fetch_study(REOPENED)
        history.history_index(REOPENED)
        history.history_version(REOPENED, 0)
        v2.fetch_study(STARTED)
    assert fake.slept == [1.0, 1.0, 1.0]  # four requests, one a second, whichever client
    assert [r.path.split("/")[2] for r in server.requests] == ["v2", "int", "int", "v2"]


def test_the_history_api_has_its_own_base_url_setting(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[registry]\nhistory_url = "http://127.0.0.1:8080/api/int"\n')
    env = {"HOME": str(tmp_path)}
    assert load_settings(None, env).registry.history_url == "https://clinicaltrials.gov/api/int"
    assert load_settings(config, env).registry.history_url == "http://127.0.0.1:8080/api/int"
