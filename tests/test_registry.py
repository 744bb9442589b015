"""The registry client against a real local HTTP server: batches, faults, retries, politeness.

Every test runs the real `RegistryClient` over a socket against `watcher.registry.replay`, with the
waiting injected (a fake clock that only moves when the client sleeps), so backoff and rate
limits are checked by the waits they ask for, not by waiting.
"""

from __future__ import annotations

import copy
import socket
from collections.abc import Callable, Iterator
from dataclasses import astuple
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from conftest import FIXTURE_DIRS

from watcher.core.canonical import stamp_of
from watcher.errors import (
    RegistryError,
    RegistryResponseInvalid,
    RegistryUnavailable,
    TrialNotFound,
)
from watcher.registry.client import Fetched, RegistryClient
from watcher.registry.ratelimit import TokenBucket
from watcher.registry.replay import (
    ReplayRegistry,
    RequestLog,
    load_records,
    with_nct_id,
)
from watcher.registry.replay_server import ReplayServer

RECORDS = {nct: versions[-1] for nct, versions in load_records(FIXTURE_DIRS[0]).items()}
# Trials whose records carry all the light fields (two AACT fixtures have no status module).
IDS = sorted(n for n, r in RECORDS.items() if None not in astuple(stamp_of(r)))[:16]
USER_AGENT = "trialwatch-test/1.0"


class FakeTime:
    """A clock that moves only when something sleeps on it, recording every sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer(ReplayRegistry({n: RECORDS[n] for n in IDS})) as running:
        yield running


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


Connect = Callable[..., RegistryClient]


@pytest.fixture
def connect(server: ReplayServer, fake: FakeTime) -> Iterator[Connect]:
    clients: list[RegistryClient] = []

    def make(base_url: str | None = None, **options: Any) -> RegistryClient:
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
        client = RegistryClient(base_url or server.base_url, **settings)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def by_id(fetched: Iterator[Fetched]) -> dict[str, Fetched]:
    """Collect a batch answer, failing if any trial is answered twice."""
    seen: dict[str, Fetched] = {}
    for item in fetched:
        assert item.nct_id not in seen, f"{item.nct_id} answered twice"
        assert (item.record is None) != (item.error is None)
        seen[item.nct_id] = item
    return seen


def concerns(entry: RequestLog, nct_id: str) -> bool:
    return entry.path.endswith(f"/studies/{nct_id}") or nct_id in "".join(
        entry.query.get("filter.ids", [])
    )


def list_requests(server: ReplayServer) -> list[RequestLog]:
    return [r for r in server.requests if r.path.endswith("/studies")]


# --- answers -------------------------------------------------------------------------------


def test_fetch_study_returns_the_record_as_published(
    server: ReplayServer, connect: Connect
) -> None:
    """Fetching one trial gives its full record, asked for with our User-Agent."""
    client = connect()
    assert client.fetch_study(IDS[0]) == RECORDS[IDS[0]]
    assert [(r.path, r.user_agent) for r in server.requests] == [
        (f"/api/v2/studies/{IDS[0]}", USER_AGENT)
    ]
    assert client.request_count == 1


def test_data_timestamp_follows_data_releases(server: ReplayServer, connect: Connect) -> None:
    """The client reports the registry's data release stamp, and sees a new release."""
    client = connect()
    assert client.data_timestamp() == "2026-03-15T09:00:00"
    server.registry.release()
    assert client.data_timestamp() == "2026-03-16T09:00:00"


def test_batch_follows_pages_and_answers_every_trial_once(
    server: ReplayServer, connect: Connect
) -> None:
    """A batch answered over several pages still yields each requested trial exactly once."""
    server.registry.max_page_size = 3
    wanted = IDS[:8]
    answers = by_id(connect(records_per_request=8).fetch_studies([*wanted, wanted[0]]))
    assert {n: f.record for n, f in answers.items()} == {n: RECORDS[n] for n in wanted}
    pages = list_requests(server)
    assert len(pages) == 3
    assert ["pageToken" in p.query for p in pages] == [False, True, True]
    assert {p.query["filter.ids"][0] for p in pages} == {",".join(wanted)}


def test_batch_results_stream_as_pages_arrive(server: ReplayServer, connect: Connect) -> None:
    """The first trials of a batch arrive before the later pages are even asked for."""
    server.registry.max_page_size = 2
    stream = connect(records_per_request=6).fetch_studies(IDS[:6])
    first = next(stream)
    assert first.record == RECORDS[first.nct_id]
    assert len(list_requests(server)) == 1
    assert len(by_id(stream)) == 5


def test_stamps_carry_only_the_light_fields(server: ReplayServer, connect: Connect) -> None:
    """A light check returns just the ID, last update date and overall status of each trial."""
    answers = by_id(connect().fetch_stamps(IDS[:5]))
    for nct_id, fetched in answers.items():
        assert fetched.record is not None
        assert stamp_of(fetched.record) == stamp_of(RECORDS[nct_id])
        protocol = fetched.record["protocolSection"]
        assert set(fetched.record) == {"protocolSection"}
        assert set(protocol) == {"identificationModule", "statusModule"}
        assert set(protocol["identificationModule"]) == {"nctId"}
    assert list_requests(server)[0].query["fields"] == ["NCTId,LastUpdatePostDate,OverallStatus"]


def test_stamps_are_asked_in_batches_of_ids_per_request(
    server: ReplayServer, connect: Connect
) -> None:
    """Ten trials with four IDs per request take three list requests sized 4, 4 and 2."""
    assert len(by_id(connect(ids_per_request=4).fetch_stamps(IDS[:10]))) == 10
    assert [r.query["pageSize"] for r in list_requests(server)] == [["4"], ["4"], ["2"]]


# --- faults ----------------------------------------------------------------------------------

FAULTS = [
    ("500", RegistryUnavailable, "500 Internal Server Error 3 times"),
    ("503", RegistryUnavailable, "503 Service Unavailable 3 times"),
    ("429", RegistryUnavailable, "429 Too Many Requests 3 times"),
    ("slow", RegistryUnavailable, "did not answer within 0.3 s 3 times"),
    ("truncated", RegistryUnavailable, "connection closed before a complete answer"),
    ("drop", RegistryUnavailable, "connection closed before a complete answer"),
    ("invalid_json", RegistryResponseInvalid, "body that is not JSON (text/html) 3 times"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("fault", "error", "words"), FAULTS)
def test_lasting_fault_becomes_a_clear_error_and_clears(
    server: ReplayServer, connect: Connect, fault: str, error: type[RegistryError], words: str
) -> None:
    """A fault that outlasts the retries names the trial and what happened; then it recovers."""
    nct_id = IDS[0]
    client = connect(timeout_s=0.3)
    server.registry.fail(fault, times=None, delay=1.0)
    with pytest.raises(error) as raised:
        client.fetch_study(nct_id)
    assert str(raised.value).startswith(f"{nct_id}: ")
    assert words in str(raised.value)
    assert "will retry next cycle" in str(raised.value)
    assert client.request_count == 3
    server.registry.clear_faults()
    assert client.fetch_study(nct_id) == RECORDS[nct_id]


@pytest.mark.slow
@pytest.mark.parametrize("fault", [f[0] for f in FAULTS])
def test_passing_fault_is_retried_after_a_backoff(
    server: ReplayServer, connect: Connect, fake: FakeTime, fault: str
) -> None:
    """A fault that happens once costs one retry after a backoff, and the caller sees nothing."""
    client = connect(timeout_s=0.3)
    server.registry.fail(fault, delay=1.0)
    assert client.fetch_study(IDS[0]) == RECORDS[IDS[0]]
    assert fake.slept == [1.0]
    assert {r.user_agent for r in server.requests} == {USER_AGENT}


def test_backoff_doubles_up_to_its_cap_with_jitter(
    server: ReplayServer, connect: Connect, fake: FakeTime
) -> None:
    """Waits between retries double from the base up to the cap, scaled by the jitter draw."""
    server.registry.fail("503", times=None)
    client = connect(max_retries=4, backoff_base_s=1.0, backoff_cap_s=3.0, jitter=lambda: 0.5)
    with pytest.raises(RegistryUnavailable) as raised:
        client.fetch_study(IDS[0])
    assert fake.slept == [0.5, 1.0, 1.5, 1.5]
    assert raised.value.status_code == 503
    assert "503 Service Unavailable 5 times" in str(raised.value)


def test_retry_after_seconds_are_honoured(
    server: ReplayServer, connect: Connect, fake: FakeTime
) -> None:
    """When the registry says Retry-After: 7, the client waits exactly 7 seconds."""
    server.registry.fail("429", retry_after="7")
    assert connect().fetch_study(IDS[0]) == RECORDS[IDS[0]]
    assert fake.slept == [7.0]


def test_retry_after_http_date_is_honoured(
    server: ReplayServer, connect: Connect, fake: FakeTime
) -> None:
    """A Retry-After given as a date two minutes ahead makes the client wait about two minutes."""
    until = datetime.now(UTC) + timedelta(seconds=120)
    server.registry.fail("429", retry_after=format_datetime(until, usegmt=True))
    connect().fetch_study(IDS[0])
    assert len(fake.slept) == 1
    assert 117 <= fake.slept[0] <= 121  # HTTP dates have whole-second resolution


def test_retry_after_beyond_the_limit_gives_up_at_once(
    server: ReplayServer, connect: Connect, fake: FakeTime
) -> None:
    """Asked to wait an hour, the client gives up at once and says why instead of hanging."""
    server.registry.fail("429", retry_after="3600")
    client = connect(max_retry_after_s=300)
    with pytest.raises(RegistryUnavailable) as raised:
        client.fetch_study(IDS[0])
    assert "asked us to wait 3600 s (Retry-After), longer than the 300 s allowed" in str(
        raised.value
    )
    assert (client.request_count, fake.slept) == (1, [])


def test_unknown_trial_is_not_found(connect: Connect) -> None:
    """A 404 becomes TrialNotFound naming the ID, without retries."""
    client = connect()
    with pytest.raises(TrialNotFound, match="NCT00000001: not found"):
        client.fetch_study("NCT00000001")
    assert client.request_count == 1


def test_malformed_id_is_refused_by_name(connect: Connect) -> None:
    """A 400 for a malformed ID becomes RegistryResponseInvalid naming it, without retries."""
    client = connect()
    with pytest.raises(RegistryResponseInvalid, match=r"^NCT-oops: .*400 Bad Request"):
        client.fetch_study("NCT-oops")
    assert client.request_count == 1


def test_unreachable_registry_is_unavailable(connect: Connect) -> None:
    """With nothing listening, the client says it could not connect, after its retries."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = connect(base_url=f"http://127.0.0.1:{port}/api/v2")
    with pytest.raises(RegistryUnavailable, match="could not connect to the registry"):
        client.data_timestamp()
    assert client.request_count == 3


def test_version_fault_does_not_touch_study_fetches(server: ReplayServer, connect: Connect) -> None:
    """A fault scoped to /version fails the release check but not the trials."""
    server.registry.fail("503", times=None, path="/version")
    client = connect()
    with pytest.raises(RegistryUnavailable, match="503"):
        client.data_timestamp()
    assert client.fetch_study(IDS[0]) == RECORDS[IDS[0]]


# --- batches that go wrong -------------------------------------------------------------------


def test_removed_trial_in_a_batch_gets_a_definite_not_found(
    server: ReplayServer, connect: Connect
) -> None:
    """A trial missing from a batch answer is asked for alone, and reported as not found."""
    gone = IDS[2]
    server.registry.remove(gone)
    answers = by_id(connect().fetch_studies(IDS[:5]))
    assert isinstance(answers[gone].error, TrialNotFound)
    assert all(answers[n].record == RECORDS[n] for n in IDS[:5] if n != gone)
    assert server.requests[-1].path == f"/api/v2/studies/{gone}"


def test_malformed_id_in_a_batch_fails_alone(server: ReplayServer, connect: Connect) -> None:
    """A batch refused for one malformed ID is split, so only that ID gets the refusal."""
    answers = by_id(connect().fetch_stamps([IDS[0], "NCT-oops", IDS[1]]))
    assert isinstance(answers["NCT-oops"].error, RegistryResponseInvalid)
    assert str(answers["NCT-oops"].error).startswith("NCT-oops: the registry answered 400")
    assert answers[IDS[0]].record is not None
    assert answers[IDS[1]].record is not None
    # A refusal says nothing about the registry's health: no /version check before splitting.
    assert all(not r.path.endswith("/version") for r in server.requests)


def test_lasting_fault_on_one_trial_spares_the_rest_of_its_batch(
    server: ReplayServer, connect: Connect
) -> None:
    """When every request holding one trial fails, the batch is split so only that trial errs."""
    bad = IDS[5]
    server.registry.fail("503", times=None, nct_id=bad)
    answers = by_id(connect(records_per_request=8).fetch_studies(IDS[:8]))
    error = answers[bad].error
    assert isinstance(error, RegistryUnavailable)
    assert str(error).startswith(f"{bad}: the registry answered 503")
    assert all(answers[n].record == RECORDS[n] for n in IDS[:8] if n != bad)
    failed = [r for r in server.requests if r.status == 503]
    assert all(concerns(r, bad) for r in failed)
    paths = [r.path for r in server.requests]
    assert "/api/v2/version" in paths  # the registry was checked before splitting
    assert f"/api/v2/studies/{bad}" in paths  # the fallback reached the single fetch


def test_list_endpoint_failing_mid_batch_falls_back_to_single_fetches(
    server: ReplayServer, connect: Connect
) -> None:
    """If the list endpoint breaks after the first page, the rest still arrive one by one."""
    server.registry.max_page_size = 2
    stream = connect(records_per_request=6).fetch_studies(IDS[:6])
    first = [next(stream), next(stream)]
    server.registry.fail("503", times=None, path="/studies")
    answers = {f.nct_id: f for f in first} | by_id(stream)
    assert {n: f.record for n, f in answers.items()} == {n: RECORDS[n] for n in IDS[:6]}
    singles = [r.path for r in server.requests if "/studies/NCT" in r.path]
    assert singles == [f"/api/v2/studies/{n}" for n in IDS[2:6]]


def test_registry_wide_outage_fails_fast_and_recovers(
    server: ReplayServer, connect: Connect
) -> None:
    """When the registry itself is down, a poll fails every trial without a storm of requests."""
    server.registry.fail("503", times=None)
    client = connect(records_per_request=4)
    answers = by_id(client.fetch_studies(IDS[:12]))
    assert all(isinstance(f.error, RegistryUnavailable) for f in answers.values())
    assert str(answers[IDS[11]].error).startswith(f"{IDS[11]}: the registry answered 503")
    assert client.request_count == 3 + 1  # one batch with its retries, one /version check
    server.registry.clear_faults()
    recovered = by_id(client.fetch_studies(IDS[:12]))
    assert all(f.record == RECORDS[n] for n, f in recovered.items())


def test_rate_limiting_registry_stops_the_call(server: ReplayServer, connect: Connect) -> None:
    """A lasting 429 is about us, not one batch: the call stops rather than splitting."""
    server.registry.fail("429", times=None)
    client = connect(ids_per_request=3)
    answers = by_id(client.fetch_stamps(IDS[:9]))
    assert all(isinstance(f.error, RegistryUnavailable) for f in answers.values())
    assert client.request_count == 3


def test_an_alias_id_is_followed_to_the_trial_it_now_names(
    server: ReplayServer, connect: Connect
) -> None:
    """An ID the registry redirects (301) to another trial answers with that trial's record,
    alone or in a batch, so the caller can move the watch instead of failing every cycle."""
    old, new = "NCT09999998", "NCT09999999"
    moved = with_nct_id(RECORDS[IDS[0]], new)
    moved["protocolSection"]["identificationModule"]["nctIdAliases"] = [old]
    server.registry.publish(moved)
    client = connect()
    assert client.fetch_study(old) == moved
    assert [r.status for r in server.requests] == [301, 200]
    answers = by_id(client.fetch_stamps([old, IDS[1], IDS[2]]))
    assert set(answers) == {old, IDS[1], IDS[2]}  # the unasked-for {new} is not reported
    assert stamp_of(answers[old].record or {}).nct_id == new
    assert answers[IDS[1]].record is not None


def test_a_page_token_that_never_ends_fails_the_batch_within_one_page_per_id(
    server: ReplayServer, connect: Connect
) -> None:
    """A runaway or repeating nextPageToken ends the batch at the first page that answers none
    of the IDs still pending (so at most one page per ID): those fail (not split), the answered
    ones stand."""
    server.registry.max_page_size = 1
    gone = "NCT09999990"  # never in an answer, so only the bound ends the paging
    for fault, pages, answered in (("endless_pages", 4, 3), ("same_page_token", 2, 1)):
        server.registry.fail(fault, times=None)
        client = connect(ids_per_request=4)
        answers = by_id(client.fetch_stamps([*IDS[:3], gone]))
        server.registry.clear_faults()
        failed = {n for n, f in answers.items() if f.error is not None}
        assert failed == {*IDS[answered:3], gone}, fault
        assert all("kept paging" in str(answers[n].error) for n in failed)
        assert client.request_count == pages, fault


def test_a_stale_copy_listed_first_does_not_hide_the_live_record(
    server: ReplayServer, connect: Connect
) -> None:
    """Of two copies of a trial in one page, the one updated last is the answer."""
    live = RECORDS[IDS[0]]
    stale = copy.deepcopy(live)
    stale["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"] = {"date": "2001-01-01"}
    server.registry.stale_copy(stale)
    answers = by_id(connect().fetch_studies(IDS[:3]))
    assert answers[IDS[0]].record == live


# --- politeness ------------------------------------------------------------------------------


def test_every_request_takes_a_token_including_retries(
    server: ReplayServer, connect: Connect, fake: FakeTime
) -> None:
    """At 30 requests a minute, each request after the first waits 2 s, retries included."""
    server.registry.fail("503")
    client = connect(requests_per_minute=30, jitter=lambda: 0.0)
    for nct_id in IDS[:2]:
        client.fetch_study(nct_id)
    assert fake.slept == [0.0, 2.0, 2.0]  # backoff (no jitter), then the bucket's waits
    assert client.request_count == 3


def test_token_bucket_spaces_requests_after_the_burst(fake: FakeTime) -> None:
    """A bucket lets `burst` requests through at once, then one per 60/rate seconds."""
    bucket = TokenBucket(60, 3, fake.clock, fake.sleep)
    for _ in range(5):
        bucket.acquire()
    assert fake.slept == [1.0, 1.0]


def test_token_bucket_refills_while_idle_but_not_beyond_the_burst(fake: FakeTime) -> None:
    """After a long pause the bucket is full again, but holds no more than its burst."""
    bucket = TokenBucket(120, 2, fake.clock, fake.sleep)
    bucket.acquire()
    bucket.acquire()
    fake.now += 600
    for _ in range(3):
        bucket.acquire()
    assert fake.slept == [0.5]


def test_rate_zero_turns_the_limit_off(fake: FakeTime) -> None:
    """A rate of 0 never waits."""
    bucket = TokenBucket(0, 1, fake.clock, fake.sleep)
    for _ in range(100):
        bucket.acquire()
    assert fake.slept == []
