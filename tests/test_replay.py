"""The replay server speaks the registry's API: paths, pages, fields, errors, releases, faults.

Checked with a plain HTTP client (httpx) rather than our registry client, so a shared mistake
between the two cannot hide: what is asserted here is the API's documented behaviour.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import FIXTURE_DIRS, load_fixture

from watcher.registry.replay import ReplayRegistry, load_records, with_nct_id
from watcher.registry.replay_server import ReplayServer

# Real records: the demo trials (several versions each) and a few captured singles.
DEMO = load_records(FIXTURE_DIRS[1])
LATEST = {nct: versions[-1] for nct, versions in DEMO.items()}
IDS = sorted(LATEST)
LIGHT = "NCTId,LastUpdatePostDate,OverallStatus"


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer(ReplayRegistry(LATEST)) as running:
        yield running


@pytest.fixture
def http(server: ReplayServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=5) as client:
        yield client


def studies(http: httpx.Client, **params: Any) -> dict[str, Any]:
    response = http.get("/studies", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def ids_of(page: dict[str, Any]) -> list[str]:
    return [s["protocolSection"]["identificationModule"]["nctId"] for s in page["studies"]]


# --- single studies --------------------------------------------------------------------------


def test_single_study_is_the_published_record(http: httpx.Client) -> None:
    """GET /studies/{id} answers the record as published, as JSON."""
    response = http.get(f"/studies/{IDS[0]}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == LATEST[IDS[0]]


def test_single_study_accepts_the_ids_the_api_accepts(http: httpx.Client) -> None:
    """Lower case and dropped leading zeros name the same study, as in the API's ID pattern."""
    short = "nct" + IDS[0][3:].lstrip("0")
    assert http.get(f"/studies/{short}").json() == LATEST[IDS[0]]


def test_unknown_study_is_a_plain_text_404(http: httpx.Client) -> None:
    """An ID nobody registered gets 404 with a text/plain body naming it."""
    response = http.get("/studies/NCT00000001")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/plain")
    assert "NCT00000001" in response.text


def test_malformed_id_is_a_plain_text_400(http: httpx.Client) -> None:
    """Something that is not an NCT ID gets 400 with a text/plain body naming it."""
    response = http.get("/studies/ABC123")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert "ABC123" in response.text


def test_alias_id_redirects_to_the_current_study(server: ReplayServer, http: httpx.Client) -> None:
    """An ID listed as another study's alias answers 301 to that study, keeping the query."""
    moved = with_nct_id(LATEST[IDS[0]], "NCT09999999")
    moved["protocolSection"]["identificationModule"]["nctIdAliases"] = ["NCT09999998"]
    server.registry.publish(moved)
    response = http.get("/studies/NCT09999998", params={"fields": "NCTId"})
    assert response.status_code == 301
    assert response.headers["location"] == "/api/v2/studies/NCT09999999?fields=NCTId"
    assert ids_of(studies(http, **{"filter.ids": "NCT09999998"})) == ["NCT09999999"]


# --- pages -----------------------------------------------------------------------------------


def test_pages_walk_every_study_once_then_stop(http: httpx.Client) -> None:
    """pageSize splits an answer into pages; following nextPageToken visits each study once."""
    query = {"filter.ids": ",".join(IDS), "pageSize": 2, "countTotal": "true"}
    first = studies(http, **query)
    assert first["totalCount"] == len(IDS)
    seen, page, pages = ids_of(first), first, 1
    while "nextPageToken" in page:
        page = studies(http, **query, pageToken=page["nextPageToken"])
        assert "totalCount" not in page  # only the first page carries the count
        seen, pages = seen + ids_of(page), pages + 1
    assert seen == IDS
    assert pages == 3  # five demo trials: 2 + 2 + 1


def test_page_size_defaults_to_ten_and_is_capped(server: ReplayServer, http: httpx.Client) -> None:
    """Without pageSize a page holds 10 studies; a larger pageSize is cut to the cap."""
    clones = [with_nct_id(LATEST[IDS[0]], f"NCT0900{i:04d}") for i in range(12)]
    server.registry.publish(*clones)
    wanted = ",".join(c["protocolSection"]["identificationModule"]["nctId"] for c in clones)
    assert len(studies(http, **{"filter.ids": wanted})["studies"]) == 10
    server.registry.max_page_size = 4
    page = studies(http, **{"filter.ids": wanted, "pageSize": 500})
    assert (len(page["studies"]), "nextPageToken" in page) == (4, True)


def test_page_token_is_only_valid_for_the_same_query(http: httpx.Client) -> None:
    """A token works with the same filters (any page size) and is refused with other ones."""
    query: dict[str, Any] = {"filter.ids": ",".join(IDS), "pageSize": 2, "fields": LIGHT}
    token = studies(http, **query)["nextPageToken"]
    assert ids_of(studies(http, **{**query, "pageSize": 3, "pageToken": token})) == IDS[2:5]
    other = http.get("/studies", params={**query, "fields": "NCTId", "pageToken": token})
    assert other.status_code == 400
    assert "pageToken" in other.text
    assert http.get("/studies", params={**query, "pageToken": "garbage"}).status_code == 400


def test_unknown_ids_are_simply_absent(http: httpx.Client) -> None:
    """filter.ids with an unregistered ID answers the known ones, in the order asked."""
    page = studies(http, **{"filter.ids": f"{IDS[1]}|NCT00000001,{IDS[0]}"})
    assert ids_of(page) == [IDS[1], IDS[0]]
    assert "nextPageToken" not in page


def test_unsupported_parameters_are_refused(http: httpx.Client) -> None:
    """A parameter the replay does not implement is a 400, not silently ignored."""
    response = http.get("/studies", params={"query.locn": "Boston"})
    assert response.status_code == 400
    assert "query.locn" in response.text


# --- fields ----------------------------------------------------------------------------------


def test_light_fields_return_only_those_pieces(http: httpx.Client) -> None:
    """fields=NCTId,LastUpdatePostDate,OverallStatus keeps just those, nested in their modules."""
    record = LATEST[IDS[0]]
    status = record["protocolSection"]["statusModule"]
    expected = {
        "protocolSection": {
            "identificationModule": {"nctId": IDS[0]},
            "statusModule": {
                "overallStatus": status["overallStatus"],
                "lastUpdatePostDateStruct": {"date": status["lastUpdatePostDateStruct"]["date"]},
            },
        }
    }
    assert studies(http, **{"filter.ids": IDS[0], "fields": LIGHT})["studies"] == [expected]
    assert http.get(f"/studies/{IDS[0]}", params={"fields": LIGHT}).json() == expected


def test_fields_answer_has_the_shape_of_a_real_capture(http: httpx.Client) -> None:
    """Projecting a full record gives the same nesting as a real `fields=` capture (dates too)."""
    capture = load_fixture("NCT02576665__biomcp-capture-fields-subset.json")["protocolSection"]
    pieces = "NCTId,BriefTitle,OverallStatus,StartDate,CompletionDate"
    got = http.get(f"/studies/{IDS[0]}", params={"fields": pieces}).json()
    wanted = {k: capture[k] for k in ("identificationModule", "statusModule")}
    assert paths(got) == paths({"protocolSection": wanted})


def paths(value: Any, prefix: str = "") -> set[str]:
    """Every leaf's key path: the shape of a JSON object, whatever its values."""
    if not isinstance(value, dict):
        return {prefix}
    return {p for k, v in value.items() for p in paths(v, f"{prefix}.{k}")}


def test_unknown_piece_name_is_refused(http: httpx.Client) -> None:
    """A fields= name the API does not know is a 400 naming it."""
    response = http.get(f"/studies/{IDS[0]}", params={"fields": "NCTId,Colour"})
    assert response.status_code == 400
    assert "Colour" in response.text


# --- releases --------------------------------------------------------------------------------


def test_version_reports_the_data_release(server: ReplayServer, http: httpx.Client) -> None:
    """/version names the API version and the data release, which moves on a new release."""
    assert http.get("/version").json() == {
        "apiVersion": "2.0.5",
        "dataTimestamp": "2026-03-15T09:00:00",
    }
    assert server.registry.release() == "2026-03-16T09:00:00"
    assert http.get("/version").json()["dataTimestamp"] == "2026-03-16T09:00:00"


def test_publish_serves_the_new_version(server: ReplayServer, http: httpx.Client) -> None:
    """Publishing an older or newer version makes it the one served, in a new data release."""
    oldest = DEMO[IDS[0]][0]
    server.registry.publish(oldest)
    assert http.get(f"/studies/{IDS[0]}").json() == oldest
    assert server.registry.data_timestamp == "2026-03-16T09:00:00"
    server.registry.publish(LATEST[IDS[0]], release=False)
    assert server.registry.data_timestamp == "2026-03-16T09:00:00"


def test_removed_study_is_gone_everywhere(server: ReplayServer, http: httpx.Client) -> None:
    """A removed trial answers 404 and drops out of list answers."""
    server.registry.remove(IDS[0])
    assert http.get(f"/studies/{IDS[0]}").status_code == 404
    assert ids_of(studies(http, **{"filter.ids": ",".join(IDS[:2])})) == [IDS[1]]


# --- faults ----------------------------------------------------------------------------------


def test_fault_scoped_to_a_trial_hits_only_requests_about_it(
    server: ReplayServer, http: httpx.Client
) -> None:
    """A fault for one NCT ID fails its fetch and batches holding it, and nothing else."""
    server.registry.fail("503", times=None, nct_id=IDS[1])
    assert http.get(f"/studies/{IDS[0]}").status_code == 200
    assert http.get(f"/studies/{IDS[1]}").status_code == 503
    assert http.get("/studies", params={"filter.ids": f"{IDS[0]},{IDS[1]}"}).status_code == 503
    assert http.get("/studies", params={"filter.ids": IDS[2]}).status_code == 200
    assert http.get("/version").status_code == 200


def test_fault_scoped_to_a_path_and_counted(server: ReplayServer, http: httpx.Client) -> None:
    """A fault for /version with times=2 fails exactly the next two /version requests."""
    server.registry.fail("500", times=2, path="/version")
    assert http.get(f"/studies/{IDS[0]}").status_code == 200
    assert [http.get("/version").status_code for _ in range(3)] == [500, 500, 200]


def test_clear_faults_disarms_lasting_faults(server: ReplayServer, http: httpx.Client) -> None:
    """A fault armed until cleared stops once cleared."""
    server.registry.fail("503", times=None)
    assert http.get("/version").status_code == 503
    server.registry.clear_faults()
    assert http.get("/version").status_code == 200


def test_429_carries_retry_after(server: ReplayServer, http: httpx.Client) -> None:
    """The 429 fault says how long to wait, as the given Retry-After."""
    server.registry.fail("429", retry_after="12")
    response = http.get("/version")
    assert (response.status_code, response.headers["retry-after"]) == (429, "12")


def test_invalid_json_is_an_html_page_with_200(server: ReplayServer, http: httpx.Client) -> None:
    """The invalid_json fault answers 200 with an HTML page, like a proxy's maintenance page."""
    server.registry.fail("invalid_json")
    response = http.get(f"/studies/{IDS[0]}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        response.json()


@pytest.mark.parametrize("fault", ["truncated", "drop"])
def test_broken_connections_break_for_real(
    server: ReplayServer, http: httpx.Client, fault: str
) -> None:
    """Truncated answers and dropped connections fail in the HTTP client, then service resumes."""
    server.registry.fail(fault)
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(f"/studies/{IDS[0]}")
    assert http.get(f"/studies/{IDS[0]}").json() == LATEST[IDS[0]]
    broken = server.requests[0]
    assert broken.status == (None if fault == "drop" else 200)
    assert broken.bytes_sent < len(json.dumps(LATEST[IDS[0]], separators=(",", ":")))


@pytest.mark.slow
def test_slow_answer_outlasts_a_short_timeout(server: ReplayServer) -> None:
    """The slow fault holds the answer back longer than a client willing to wait 0.2 s."""
    server.registry.fail("slow", delay=1.0)
    with (
        httpx.Client(base_url=server.base_url, timeout=0.2) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        impatient.get("/version")


def test_unknown_fault_names_are_refused(server: ReplayServer) -> None:
    """Arming a fault or path that does not exist is a mistake reported at once."""
    with pytest.raises(ValueError, match="unknown fault"):
        server.registry.fail("504")
    with pytest.raises(ValueError, match="unknown path"):
        server.registry.fail("503", path="/studies/NCT00000001")


# --- bookkeeping -----------------------------------------------------------------------------


def test_request_log_counts_every_request(server: ReplayServer, http: httpx.Client) -> None:
    """Each request is logged with its path, query, status and body size, until reset."""
    body = http.get(f"/studies/{IDS[0]}", params={"fields": LIGHT}).content
    http.get("/studies/NCT00000001")
    log = server.requests
    assert [(r.method, r.path, r.status) for r in log] == [
        ("GET", f"/api/v2/studies/{IDS[0]}", 200),
        ("GET", "/api/v2/studies/NCT00000001", 404),
    ]
    assert log[0].query == {"fields": [LIGHT]}
    assert log[0].bytes_sent == len(body)
    server.reset_log()
    assert server.requests == []


def test_server_is_quiet(server: ReplayServer, http: httpx.Client, capfd: Any) -> None:
    """Serving, refusing and dropping requests prints nothing to the terminal."""
    http.get(f"/studies/{IDS[0]}")
    http.get("/studies/ABC")
    server.registry.fail("drop")
    with pytest.raises(httpx.RemoteProtocolError):
        http.get("/version")
    server.stop()
    assert capfd.readouterr() == ("", "")


def test_load_records_groups_versions_in_file_name_order() -> None:
    """Records load grouped by NCT ID, each trial's versions in file-name (date) order."""
    versions = DEMO["NCT05294952"]
    assert versions == [
        load_fixture("NCT05294952__partrita-tigit__2026-02-03__91d8d988.json"),
        load_fixture("NCT05294952__partrita-tigit__2026-03-03__8078b9f0.json"),
    ]
    assert sum(len(v) for v in DEMO.values()) == len(list(FIXTURE_DIRS[1].glob("NCT*.json")))


def test_with_nct_id_leaves_the_original_alone() -> None:
    """Renumbering a record for a synthetic registry does not change the record it came from."""
    original = LATEST[IDS[0]]
    clone = with_nct_id(original, "NCT09000001")
    assert clone["protocolSection"]["identificationModule"]["nctId"] == "NCT09000001"
    assert original["protocolSection"]["identificationModule"]["nctId"] == IDS[0]
    assert clone["protocolSection"]["statusModule"] is original["protocolSection"]["statusModule"]
