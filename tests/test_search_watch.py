"""Search watches end to end: the real client searching the replay registry over HTTP, the CLI,
SQLite and the outbox; a hand-made truth table on the recorded records."""

from __future__ import annotations

import copy
import email
import sqlite3
from datetime import UTC, datetime, timedelta
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURE_DIRS, Trialwatch

from watcher.config import load_settings
from watcher.core.distance import Radius
from watcher.core.places import Near
from watcher.core.search import new_search, query_params
from watcher.errors import RegistryResponseInvalid, RegistryUnavailable
from watcher.registry.client import RegistryClient, nct_id_of
from watcher.registry.replay import ReplayRegistry, load_records, with_nct_id
from watcher.registry.replay_server import ReplayServer
from watcher.service.searches import run_searches, searches_due
from watcher.store.database import Store

RECORDS = {n: v[-1] for n, v in load_records(FIXTURE_DIRS[0]).items()}
BOSTON = (42.35843, -71.05977)

# Every recorded trial with the word melanoma in its conditions, keywords or titles, and its
# site nearest Boston, MA, read off each record's locations by hand (great-circle miles):
# within 50 miles are the two with a Boston site; within 180 four more, not those at 185+.
MELANOMA_NEAREST_TO_BOSTON = {
    "NCT00184067": "Los Angeles, 2591 mi",
    "NCT02475213": "Boston, 0 mi",
    "NCT02576665": "Miami, 1258 mi",
    "NCT03729596": "Baltimore, 359 mi",
    "NCT04305054": "Lake Success NY, 176 mi",
    "NCT04895709": "Hackensack NJ, 185 mi",
    "NCT04897321": "Memphis, 1135 mi",
    "NCT05130177": "Pittsburgh, 481 mi",
    "NCT05537740": "Toronto, 431 mi (melanoma is a keyword)",
    "NCT05581004": "Boston, 0 mi",
    "NCT05665595": "Mineola NY, 174 mi",
    "NCT06242470": "Lake Success NY, 176 mi",
    "NCT06330064": "Westbury NY, 171 mi (keyword)",
    "NCT06953089": "New York, 190 mi (keyword)",
    "NCT07115043": "Fairfax VA, 408 mi",
}
WITHIN_50_MI = {"NCT02475213", "NCT05581004"}
WITHIN_180_MI = WITHIN_50_MI | {"NCT04305054", "NCT05665595", "NCT06242470", "NCT06330064"}


def _found(client: RegistryClient, params: dict[str, str]) -> set[str]:
    return {nct_id_of(study) or "" for page in client.search(params) for study in page}


def _near(miles: float) -> Near:
    return Near("Boston, Massachusetts, United States", BOSTON, Radius(miles, "mi"))


@pytest.fixture
def corpus() -> ReplayRegistry:
    return ReplayRegistry(RECORDS)


def test_a_condition_near_a_place_returns_exactly_the_trials_in_reach(
    corpus: ReplayRegistry,
) -> None:
    """Melanoma within 50 mi of Boston is the two trials with a Boston site; within 180 mi adds
    the four with a site on Long Island; the rest are too far; with no place, all of them."""
    with ReplayServer(corpus) as server, _client(server) as client:
        everywhere = new_search("m", condition="Melanoma")
        assert _found(client, query_params(everywhere, fields="NCTId")) == set(
            MELANOMA_NEAREST_TO_BOSTON
        )
        for miles, expected in ((50, WITHIN_50_MI), (180, WITHIN_180_MI)):
            search = new_search("m", condition="melanoma", near=_near(miles))
            found = _found(client, query_params(search, fields="NCTId"))
            assert found == expected


def test_status_and_phase_narrow_the_answer(corpus: ReplayRegistry) -> None:
    """Recruiting phase 1 (alone or with 2), then completed phase 1 or 3, of the melanoma trials."""
    with ReplayServer(corpus) as server, _client(server) as client:
        search = new_search("m", condition="melanoma", status="recruiting", phase="1")
        assert _found(client, query_params(search, fields="NCTId")) == {
            "NCT04895709",
            "NCT04897321",
            "NCT05581004",
            "NCT06242470",
            "NCT07115043",
        }
        search = new_search("m", condition="melanoma", status="completed", phase="1,3")
        assert _found(client, query_params(search, fields="NCTId")) == {
            "NCT02475213",
            "NCT05665595",
        }


def test_a_search_that_pages_forever_is_cut_off(corpus: ReplayRegistry) -> None:
    """A page token that leads back to the same page fails the search after one repeat."""
    corpus.max_page_size = 2
    with ReplayServer(corpus) as server, _client(server) as client:
        search = new_search("m", condition="melanoma")
        assert len(_found(client, query_params(search, fields="NCTId"))) == 15  # 8 pages
        corpus.fail("same_page_token", times=None)
        server.reset_log()
        with pytest.raises(RegistryUnavailable, match="kept paging a search"):
            _found(client, query_params(search, fields="NCTId"))
        assert len(server.requests) == 2


def test_the_replay_refuses_a_query_it_cannot_read(corpus: ReplayRegistry) -> None:
    """Essie operators are not humoured: a 400 naming the parameter, as the registry answers."""
    with ReplayServer(corpus) as server, _client(server) as client:
        with pytest.raises(RegistryResponseInvalid, match=r"query\.cond"):
            _found(client, {"query.cond": "melanoma OR asthma"})
        with pytest.raises(RegistryResponseInvalid, match=r"filter\.advanced"):
            _found(client, {"query.cond": "asthma", "filter.advanced": "AREA[StartDate]2022"})


def _client(server: ReplayServer) -> RegistryClient:
    return RegistryClient(
        server.base_url,
        user_agent="trialwatch-tests",
        timeout_s=10.0,
        requests_per_minute=0,
        max_retries=0,
    )


# --- the cycle, through the command line ----------------------------------------------------


def _new_trial(source: str, nct_id: str, first_posted: str) -> dict[str, Any]:
    """A recorded trial filed as a new one, first posted on `first_posted`."""
    record = copy.deepcopy(with_nct_id(RECORDS[source], nct_id))
    record["protocolSection"]["statusModule"]["studyFirstPostDateStruct"]["date"] = first_posted
    return record


def _search_mail(state: Path) -> list[tuple[str, str]]:
    """The queued emails about searches: (key, plain-text body)."""
    with sqlite3.connect(state / "trialwatch.db") as conn:
        rows = conn.execute(
            "SELECT key, body FROM outbox WHERE key LIKE 'search/%' ORDER BY id"
        ).fetchall()
    out = []
    for key, body in rows:
        message = email.message_from_bytes(body, policy=default_policy)
        text = message.get_body(preferencelist=("plain",))
        out.append((key, text.get_content() if text is not None else ""))
    return out


@pytest.fixture
def trialwatch(tmp_path: Path, replay: ReplayServer) -> Trialwatch:
    """The CLI against the `replay` server, patient enough for the replay's first search on a
    loaded machine (it reads every record's conditions and sites once)."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[registry]\nbase_url = "{replay.base_url}"\ntimeout_s = 10.0\n'
        "requests_per_minute = 0\nmax_retries = 0\n",
        encoding="utf-8",
    )
    return Trialwatch(tmp_path / "state", config)


@pytest.fixture
def melanoma(trialwatch: Trialwatch, replay: ReplayServer) -> Trialwatch:
    """The recorded records published, a melanoma search near Boston saved and subscribed to,
    and its first run made (the baseline)."""
    replay.registry.publish(*RECORDS.values(), release=False)
    trialwatch(
        "search", "add", "melanoma-boston", "--condition", "melanoma",
        "--near", "Boston, MA", "--within", "50mi",
    )  # fmt: skip
    trialwatch("subscribe", "pat@example.org", "--search", "melanoma-boston")
    trialwatch("check")
    return trialwatch


@pytest.mark.slow  # checks over the whole recorded corpus, through the CLI
def test_the_first_run_records_the_baseline_and_tells_nobody(
    melanoma: Trialwatch, replay: ReplayServer
) -> None:
    """A new search does not mail the trials that already match: it remembers them."""
    listed = melanoma.json("search", "list")
    assert [(s["name"], s["matches"], s["subscribers"]) for s in listed] == [
        ("melanoma-boston", 2, 1)
    ]
    assert listed[0]["last_release"] == replay.registry.data_timestamp
    assert _search_mail(melanoma.state_dir) == []


@pytest.mark.slow  # checks over the whole recorded corpus, through the CLI
def test_a_release_with_two_matches_and_one_other_notifies_once_with_two(
    melanoma: Trialwatch, replay: ReplayServer
) -> None:
    """Two new melanoma trials with a Boston site and one in Pittsburgh: one email, two trials;
    a second check in the same release asks /version and nothing more, and tells nobody again."""
    day = "2026-03-16"
    replay.registry.publish(
        _new_trial("NCT02475213", "NCT09000001", day),
        _new_trial("NCT05581004", "NCT09000002", day),
        _new_trial("NCT05130177", "NCT09000003", day),  # Pittsburgh: too far
    )
    replay.reset_log()
    melanoma("check")
    searched = [r for r in replay.requests if "query.cond" in r.query]
    assert len(searched) == 1
    assert searched[0].query["filter.advanced"] == ["AREA[StudyFirstPostDate]RANGE[2026-03-15,MAX]"]
    assert searched[0].query["fields"] == ["ProtocolSection"]

    ((key, text),) = _search_mail(melanoma.state_dir)
    assert key.startswith("search/")
    assert "2 new trials match your search" in text
    assert "NCT09000001" in text and "NCT09000002" in text and "NCT09000003" not in text
    assert "Sites nearest to Boston" in text and "in your city" in text
    assert "What the study tests" in text
    assert "unsubscribe" in text.lower()

    replay.reset_log()
    melanoma("check")
    assert [r.path for r in replay.requests] == ["/api/v2/version"]
    assert len(_search_mail(melanoma.state_dir)) == 1


@pytest.mark.slow  # checks over the whole recorded corpus, through the CLI
def test_a_trial_that_leaves_and_comes_back_is_not_news_twice(
    melanoma: Trialwatch, replay: ReplayServer
) -> None:
    """A match is stored once per search: a trial matched again later is not mailed again."""
    replay.registry.publish(_new_trial("NCT02475213", "NCT09000001", "2026-03-16"))
    melanoma("check")
    replay.registry.remove("NCT09000001")
    melanoma("check")
    replay.registry.publish(_new_trial("NCT02475213", "NCT09000001", "2026-03-18"))
    melanoma("check")
    assert len(_search_mail(melanoma.state_dir)) == 1


@pytest.mark.slow  # checks over the whole recorded corpus, through the CLI
def test_watch_matches_makes_each_new_match_a_followed_watch(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """With --watch-matches a new match is watched and the search's subscribers follow it."""
    replay.registry.publish(*RECORDS.values(), release=False)
    trialwatch(
        "search", "add", "m", "--condition", "melanoma", "--status", "recruiting",
        "--watch-matches",
    )  # fmt: skip
    trialwatch("subscribe", "pat@example.org", "--search", "m")
    trialwatch("check")
    assert trialwatch.json("watch", "list") == []  # the baseline is remembered, not watched
    replay.registry.publish(_new_trial("NCT05130177", "NCT09000004", "2026-03-16"))
    trialwatch("check")
    assert [w["nct_id"] for w in trialwatch.json("watch", "list")] == ["NCT09000004"]
    (person,) = trialwatch.json("subscribers")
    assert [(s["nct_id"], s["delivery"]) for s in person["subscriptions"]] == [
        ("NCT09000004", "immediate")
    ]


@pytest.mark.slow  # checks over the whole recorded corpus, through the CLI
def test_search_run_previews_without_storing(melanoma: Trialwatch, replay: ReplayServer) -> None:
    """`search run` shows what matches now, with the nearest site, and changes nothing."""
    replay.registry.publish(_new_trial("NCT02475213", "NCT09000001", "2026-03-16"))
    rows = melanoma.json("search", "run", "melanoma-boston")
    assert {(r["nct_id"], r["already_matched"]) for r in rows} == {
        ("NCT02475213", True),
        ("NCT05581004", True),
        ("NCT09000001", False),
    }
    assert {r["nearest_site"] for r in rows} == {"less than 1 mi away"}
    listed = melanoma.json("search", "list")
    assert listed[0]["matches"] == 2


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--condition", "asthma", "--status", "recruting"), "Error: --status 'recruting' is not"),
        (("--condition", "asthma", "--phase", "5"), "Error: --phase '5' is not a trial phase"),
        (("--condition", "asthma", "--near", "Bostn, MA"), "Error: --near 'Bostn, MA'"),
        (("--status", "recruiting"), "Error: the search is empty: give --condition"),
    ],
)
def test_bad_searches_are_one_line_naming_the_flag(
    trialwatch: Trialwatch, args: tuple[str, ...], said: str
) -> None:
    """A bad search is refused when typed, exit 2, nothing saved."""
    result = trialwatch("search", "add", "bad", *args, expect=2)
    assert result.stderr.startswith(said) and result.stderr.count("\n") == 1
    assert trialwatch.json("search", "list") == []


@pytest.mark.slow  # checks over the whole recorded corpus, through the CLI
def test_an_unknown_search_name_lists_the_saved_ones(melanoma: Trialwatch) -> None:
    """Subscribing to a search that does not exist names the ones that do."""
    result = melanoma("subscribe", "pat@example.org", "--search", "melanom", expect=2)
    assert "Error: --search 'melanom': no saved search" in result.stderr
    assert "melanoma-boston" in result.stderr


@pytest.mark.slow
def test_the_demo_shows_a_new_match_arriving(tmp_path: Path) -> None:
    """The demo saves a search, and its release brings one new match, emailed once."""
    run = Trialwatch(tmp_path / "unused", tmp_path / "unused.toml")
    out = run("demo", "--dir", str(tmp_path / "demo")).stdout
    assert "Search solid-tumor-guangzhou: new match NCT07400001, emailed once." in out
    assert "Subject: A new trial for your search “solid-tumor-guangzhou”: NCT07400001" in out


@pytest.mark.slow  # checks over the whole recorded corpus, through the CLI
def test_check_says_what_each_search_did(melanoma: Trialwatch, replay: ReplayServer) -> None:
    """`check` tells of a search's new trials and the emails queued for them."""
    replay.registry.publish(_new_trial("NCT02475213", "NCT09000001", "2026-03-16"))
    out = melanoma("check").stdout
    assert "Search melanoma-boston: 1 new trial(s), 1 email(s) queued." in out


@pytest.mark.slow  # checks over the whole recorded corpus, through the CLI
def test_a_search_the_registry_fails_is_run_again_next_check(
    melanoma: Trialwatch, replay: ReplayServer
) -> None:
    """A failed search stores nothing, says why (exit 1) and runs at the next check."""
    replay.registry.publish(_new_trial("NCT02475213", "NCT09000001", "2026-03-16"))
    replay.registry.fail("503", path="/studies", times=1)
    failed = melanoma("check", expect=1)
    assert failed.stderr.startswith("Error: search melanoma-boston not run: the registry answered")
    assert _search_mail(melanoma.state_dir) == []
    melanoma("check")
    ((_, text),) = _search_mail(melanoma.state_dir)
    assert "NCT09000001" in text


def test_the_daemon_runs_searches_at_the_trials_pace(
    tmp_path: Path, corpus: ReplayRegistry
) -> None:
    """With no trial due, the daemon runs a cycle for the searches once per interval, not at
    every one-minute tick: `searches_due` says yes only when the release was last asked for
    them an interval ago (and never without a saved search)."""
    settings = load_settings(None, env={"STATE_DIRECTORY": str(tmp_path)})
    start = datetime(2026, 3, 15, 10, tzinfo=UTC)
    hour = timedelta(hours=1)
    with (
        Store(tmp_path / "t.db") as store,
        ReplayServer(corpus) as server,
        _client(server) as client,
    ):
        assert not searches_due(store, hour, start)
        store.add_search(new_search("m", condition="melanoma"), start)
        assert searches_due(store, hour, start)
        (ran,) = run_searches(store, client, settings, client.data_timestamp(), start)
        assert ran.baseline and len(ran.new) == len(MELANOMA_NEAREST_TO_BOSTON)
        assert not searches_due(store, hour, start + timedelta(minutes=59))
        assert searches_due(store, hour, start + hour)
        server.reset_log()
        assert run_searches(store, client, settings, client.data_timestamp(), start + hour) == ()
        assert [r.path for r in server.requests] == ["/api/v2/version"]
