"""The coordinators' API as a script meets it: `trialwatch serve` as a real uvicorn subprocess,
called over HTTP with httpx, on a state of 200 watched trials stored in SQLite. Every API
response is checked against the OpenAPI document the site serves (`openapi_check.py`)."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Trialwatch, demo_versions, write_config
from openapi_check import Contract, checked_client
from web_server import Server, start_web

from watcher.config import load_settings
from watcher.core.canonical import content_hash
from watcher.core.diff import diff_trials
from watcher.core.record import parse_trial
from watcher.core.version import NewVersion
from watcher.registry.replay import ReplayRegistry, with_nct_id
from watcher.registry.replay_server import ReplayServer
from watcher.store.database import Store

pytestmark = pytest.mark.slow

TRIALS = 200
OLD = 10  # the first ten trials changed a month ago: outside "this week"
TEMPLATE = "NCT06911827"  # its two demo versions: not yet recruiting, then recruiting
ADDRESS = "coordinator.person@example.org"


def nct(i: int) -> str:
    return f"NCT09{i:06d}"


@dataclass
class Api:
    """The served site, its state and the keys made for it."""

    server: Server
    cli: Trialwatch
    database: Path
    contract: Contract
    key: str
    revoked: str

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        return checked_client(self.server.url, self.contract, headers=headers)


def store_versions(store: Store, nct_id: str, versions: list[dict[str, Any]], at: datetime) -> None:
    """Two versions of a trial stored as a poll stores them, the second `at`."""
    store.add_watches([nct_id], at - timedelta(days=60))
    first, second = versions
    store.save_version(
        NewVersion.of(nct_id, first, content_hash(first)), None, None, at - timedelta(days=60)
    )
    changes = diff_trials(parse_trial(first), parse_trial(second))
    new = NewVersion.of(
        nct_id, second, content_hash(second), changes, [f"Now {c.kind}" for c in changes]
    )
    store.save_version(new, first, None, at)


def new_key(cli: Trialwatch, name: str) -> str:
    return cli("api-key", "create", name).stdout.strip()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    state = tmp_path_factory.mktemp("api")
    template = demo_versions(TEMPLATE)
    now = datetime.now(UTC)
    with ReplayServer(ReplayRegistry()) as replay:
        config = write_config(
            state / "config.toml",
            replay.base_url,
            '[web]\nlisten = "127.0.0.1:0"\n[mail]\nfrom = "tw@example.org"\n',
        )
        settings = load_settings(config, env={"STATE_DIRECTORY": str(state)})
        with Store(settings.storage.database) as store, store.atomic():
            for i in range(TRIALS):
                at = now - timedelta(days=30 if i < OLD else 2)
                store_versions(store, nct(i), [with_nct_id(v, nct(i)) for v in template], at)
        cli = Trialwatch(state, config)
        key, revoked = new_key(cli, "office"), new_key(cli, "old laptop")
        cli("api-key", "revoke", "old laptop")
        cli("search", "add", "melanoma", "--condition", "melanoma", "--status", "recruiting")
        with start_web(config, state) as server:
            served = httpx.get(f"{server.url}/api/v1/openapi.json").json()
            yield Api(server, cli, settings.storage.database, Contract(served), key, revoked)


def rows(response: httpx.Response) -> list[dict[str, str]]:
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_a_coordinator_gets_this_weeks_status_changes_across_200_trials_as_csv(api: Api) -> None:
    """One call, as a script makes it: every status change of the last seven days (190 of the
    200 trials changed this week), one row each, in a file a spreadsheet opens."""
    with api.client(api.key) as http:
        answer = http.get(
            "/api/v1/changes",
            params={"since": "7d", "kind": "status", "format": "csv", "limit": "1000"},
        )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith(b"\xef\xbb\xbftrial,kind,field,old,new,site,date\r\n")
    assert b"\r\n" in answer.content and "link" not in answer.headers  # one page held it all
    found = rows(answer)
    assert len(found) == TRIALS - OLD
    assert {r["trial"] for r in found} == {nct(i) for i in range(OLD, TRIALS)}
    assert {r["kind"] for r in found} == {"status"}
    assert {(r["old"], r["new"]) for r in found} == {("NOT_YET_RECRUITING", "RECRUITING")}


def test_csv_pages_link_to_the_next_one(api: Api) -> None:
    """In CSV the next page is a `Link: <…>; rel="next"` header, as httpx and curl read it."""
    found: list[dict[str, str]] = []
    url: str | None = "/api/v1/changes?since=7d&kind=status&format=csv&limit=60"
    with api.client(api.key) as http:
        while url:
            answer = http.get(url)
            found += rows(answer)
            url = answer.links.get("next", {}).get("url")
    assert len(found) == TRIALS - OLD
    assert len({r["trial"] for r in found}) == TRIALS - OLD


def test_paging_gives_every_change_once_even_while_new_ones_are_stored(api: Api) -> None:
    """Pages of 37 through every change since a month and a half ago, following `next`; a
    change stored between two pages comes on a later page, once."""
    seen: list[int] = []
    with api.client(api.key) as http:
        everything = http.get("/api/v1/changes", params={"since": "45d", "limit": "1000"}).json()
        url: str | None = "/api/v1/changes?since=45d&limit=37"
        pages = 0
        while url:
            page = http.get(url).json()
            seen += [c["id"] for c in page["changes"]]
            pages += 1
            if pages == 2:  # the daemon stores a change meanwhile
                add_a_change(api, nct(150))
            url = page["next"]
    total = len(everything["changes"])
    assert everything["next"] is None and total > TRIALS  # several changes per trial
    assert len(seen) == len(set(seen)) == total + 1
    assert pages == -(-(total + 1) // 37)
    assert sorted(seen) == seen


def add_a_change(api: Api, nct_id: str) -> None:
    with Store(api.database) as store:
        latest = store.record(nct_id, 2)
        third = {**latest, "protocolSection": {**latest["protocolSection"]}}
        status = dict(third["protocolSection"]["statusModule"])
        status["overallStatus"] = "COMPLETED"
        third["protocolSection"]["statusModule"] = status
        changes = diff_trials(parse_trial(latest), parse_trial(third))
        new = NewVersion.of(nct_id, third, content_hash(third), changes)
        store.save_version(new, latest, None, datetime.now(UTC))


def test_reads_need_a_key_writes_need_one_and_a_revoked_key_is_refused(api: Api) -> None:
    with (
        api.client() as anonymous,
        api.client(api.revoked) as revoked,
        api.client("tw_nope") as wrong,
    ):
        for http, status in ((anonymous, 401), (wrong, 401), (revoked, 403)):
            read = http.get("/api/v1/trials")
            assert read.status_code == status
            write = http.post("/api/v1/watches", json={"nct_id": "NCT07310784"})
            assert write.status_code == status
            assert write.headers["content-type"] == "application/problem+json"
        assert anonymous.get("/api/v1/trials").headers["www-authenticate"].startswith("Bearer")
        assert "revoked" in revoked.get("/api/v1/trials").json()["detail"]
    with checked_client(api.server.url, api.contract) as http:  # a key in another scheme
        basic = http.get("/api/v1/trials", auth=("office", api.key))
        assert basic.status_code == 401 and "Bearer" in basic.json()["detail"]
    listed = api.cli.json("api-key", "list")
    assert [k["name"] for k in listed] == ["office", "old laptop"]
    assert listed[0]["revoked_at"] is None and listed[0]["last_used_at"] is not None
    assert listed[1]["revoked_at"] is not None
    shown = api.cli("api-key", "list").stdout
    assert "office" in shown and api.key not in shown and api.revoked not in shown


def logged(api: Api, line: str) -> str:
    """The server's log once it has `line` (written just after the response went out)."""
    deadline = time.monotonic() + 10
    while line not in (log := api.server.log()):
        assert time.monotonic() < deadline, f"never logged: {line}\n{log[-2000:]}"
        time.sleep(0.05)
    return log


def test_keys_and_addresses_never_reach_the_access_log(api: Api) -> None:
    with api.client(api.key) as http:
        http.get("/api/v1/trials/NCT09000042")
        http.post("/api/v1/subscriptions/lookup", json={"address": ADDRESS})
    log = logged(api, '"POST /api/v1/subscriptions/lookup HTTP/1.1" 200')
    assert '"GET /api/v1/trials/NCT09000042 HTTP/1.1" 200' in log
    for secret in (api.key, api.revoked, api.key[3:20], ADDRESS, "Bearer"):
        assert secret not in log
    assert api.key not in api.database.read_bytes().decode("latin-1")  # stored as its hash


def test_every_error_is_problem_json_naming_what_to_fix(api: Api) -> None:
    with api.client(api.key) as http:
        cases = [
            (http.get("/api/v1/trials/NCT00000001"), 404, "not watched"),
            (http.get("/api/v1/trials/NCT123"), 422, "nct_id"),
            (http.get("/api/v1/trials/NCT09000001/versions/9"), 404, "no stored version 9"),
            (http.get("/api/v1/trials/NCT09000001/versions/x"), 422, "n"),
            (http.get("/api/v1/changes"), 422, "since"),
            (http.get("/api/v1/changes", params={"since": "last tuesday"}), 422, "since"),
            (http.get("/api/v1/changes", params={"since": "7d", "kind": "gossip"}), 422, "kind"),
            (http.get("/api/v1/changes", params={"since": "7d", "limit": "5000"}), 422, "limit"),
            (http.get("/api/v1/changes", params={"since": "7d", "cursor": "abc"}), 422, "cursor"),
            (http.get("/api/v1/trials", params={"format": "xlsx"}), 422, "format"),
            (http.post("/api/v1/watches", content=b"{not json"), 422, "body"),
            (http.post("/api/v1/watches", json={"nct": "NCT07310784"}), 422, "nct_id"),
            (http.delete("/api/v1/trials"), 405, "does not take DELETE"),
            (http.get("/api/v1/nothing-here"), 404, "/api/v1/docs"),
            (http.post("/api/v1/watches", content=b"x" * 70_000), 413, "more than"),
        ]
        for answer, status, says in cases:
            assert answer.status_code == status, (answer.request.url, answer.text)
            problem = answer.json()
            assert answer.headers["content-type"] == "application/problem+json"
            assert problem["status"] == status and problem["title"] and problem["type"]
            if status == 422:
                assert problem["title"] == "Unprocessable Content"
            assert says in problem["detail"] or problem.get("parameter") == says, problem
        assert http.get("/trials/NCT00000001").headers["content-type"].startswith("text/html")


def test_trial_reads_show_its_fields_versions_changes_and_timeline(api: Api) -> None:
    trial = nct(42)
    with api.client(api.key) as http:
        listed = http.get("/api/v1/trials").json()["trials"]
        fields = http.get(f"/api/v1/trials/{trial}").json()
        versions = http.get(f"/api/v1/trials/{trial}/versions").json()["versions"]
        second = http.get(f"/api/v1/trials/{trial}/versions/2").json()
        changes = http.get(f"/api/v1/trials/{trial}/changes").json()["changes"]
        story = http.get(f"/api/v1/trials/{trial}/timeline").json()
        as_csv = rows(http.get("/api/v1/trials", params={"format": "csv"}))
    assert len(listed) == TRIALS == len(as_csv)
    row = next(t for t in listed if t["nct_id"] == trial)
    assert row["overall_status"] == "RECRUITING" and row["health"] == "ok"
    assert row["sites_recruiting"] is not None and row["sites"] >= row["sites_recruiting"]
    assert next(r for r in as_csv if r["nct_id"] == trial)["sites_recruiting"] == str(
        row["sites_recruiting"]
    )
    assert fields["fields"]["overall_status"] == "RECRUITING" and fields["version"] == 2
    assert [v["version"] for v in versions] == [1, 2]
    assert second["record"]["protocolSection"]["identificationModule"]["nctId"] == trial
    assert any(c["kind"] == "status" and c["new"] == "RECRUITING" for c in changes)
    assert [p["status"] for p in story["statuses"]][-1] == "RECRUITING"


def test_a_script_watches_subscribes_and_stops_without_a_cookie(api: Api) -> None:
    """POST and DELETE with a bearer key and no cookie or CSRF token; the security headers are
    on every answer."""
    trial = nct(7)
    with api.client(api.key) as http:
        added = http.post("/api/v1/watches", json={"nct_id": "NCT09999999"})
        again = http.post("/api/v1/watches", json={"nct_id": "nct09999999"})
        subscribed = http.post(
            "/api/v1/subscriptions",
            json={"address": ADDRESS, "nct_ids": [trial], "delivery": "weekly"},
        )
        mine = http.post("/api/v1/subscriptions/lookup", json={"address": ADDRESS}).json()
        refused = http.delete(f"/api/v1/watches/{trial}")
        ended = http.request("DELETE", "/api/v1/subscriptions", json={"address": ADDRESS})
        removed = http.delete(f"/api/v1/watches/{trial}")
        gone = http.get(f"/api/v1/trials/{trial}")
        searches = http.get("/api/v1/searches").json()
    assert (added.status_code, added.json()["added"]) == (201, True)
    assert (again.status_code, again.json()["added"]) == (200, False)
    assert subscribed.status_code == 201 and subscribed.json()["created"] == [trial]
    assert mine["subscriptions"] == [
        {"nct_id": trial, "audience": "patient", "delivery": "weekly", "kinds": None, "near": None}
    ]
    assert refused.status_code == 409 and "force=true" in refused.json()["detail"]
    assert ended.json() == {"ended": 1}
    assert removed.status_code == 200 and removed.json()["removed"] is True
    assert gone.status_code == 404
    assert [(s["name"], s["condition"], s["subscribers"]) for s in searches["searches"]] == [
        ("melanoma", "melanoma", 0)
    ]
    for answer in (added, subscribed, refused, removed):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'self'" in answer.headers["content-security-policy"]
        assert "set-cookie" not in answer.headers
    assert ADDRESS not in logged(api, '"GET /api/v1/searches HTTP/1.1" 200')


def test_the_document_and_its_page_are_served(api: Api) -> None:
    from openapi_spec_validator import validate

    validate(api.contract.doc)
    page = httpx.get(f"{api.server.url}/api/v1/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for path in api.contract.doc["paths"]:
        assert f"/api/v1{path}" in page.text
    assert "<script" not in page.text and 'src="' not in page.text  # nothing from a CDN
    assert set(re.findall(r'href="(https?://[^"]+)"', page.text)) == {"https://clinicaltrials.gov/"}


def test_feed_readers_get_every_trial_in_one_opml(api: Api) -> None:
    import xml.etree.ElementTree as ET

    answer = httpx.get(f"{api.server.url}/feeds/trials.opml")
    assert answer.status_code == 200 and "opml" in answer.headers["content-type"]
    outlines = ET.fromstring(answer.content).findall("./body/outline")  # noqa: S314 (ours)
    with api.client(api.key) as http:
        watched = http.get("/api/v1/trials").json()["trials"]
    assert [o.get("text", "")[:11] for o in outlines] == [t["nct_id"] for t in watched]
    assert outlines[0].get("xmlUrl") == f"{api.server.url}/feeds/trials/{nct(0)}.atom"


def test_responses_were_checked_against_the_document(api: Api) -> None:
    assert api.contract.checked > 40


def test_too_many_requests_are_refused_with_retry_after(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "config.toml",
        "http://127.0.0.1:9",
        '[web]\nlisten = "127.0.0.1:0"\n[api]\npublic_read = true\nrequests_per_minute = 3\n',
    )
    with start_web(config, tmp_path) as server:
        served = Contract(httpx.get(f"{server.url}/api/v1/openapi.json").json())
        with checked_client(server.url, served) as http:
            answers = [http.get("/api/v1/trials").status_code for _ in range(4)]
            last = http.get("/api/v1/trials")
    assert answers == [200, 200, 200, 429]
    assert last.headers["retry-after"] == "60" and last.json()["status"] == 429
