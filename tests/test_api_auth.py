"""The API's guard and errors in the fast tier: Starlette's TestClient on a real state (one
watched trial with a stored version, SQLite), every API response checked against the OpenAPI
document (`openapi_check.py`). The served site, over HTTP, is `test_api.py` (slow)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from conftest import Trialwatch
from openapi_check import contract, response_hook
from starlette.testclient import TestClient
from test_confirm import NCT, seeded, site

from watcher.config import load_settings
from watcher.web.app import create_app
from watcher.web.context import WebContext

__all__ = ["seeded", "site"]  # fixtures, imported for their names

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def client_for(trialwatch: Trialwatch, api: str = "") -> TestClient:
    if api:
        with trialwatch.config.open("a", encoding="utf-8") as file:
            file.write(f"\n[api]\n{api}\n")
    settings = load_settings(trialwatch.config, {"STATE_DIRECTORY": str(trialwatch.state_dir)})
    client = TestClient(create_app(WebContext(settings, lambda: NOW)), base_url="http://127.0.0.1")
    client.event_hooks = {"request": [], "response": [response_hook(contract())]}
    return client


@pytest.fixture
def keyed(site: Trialwatch) -> Iterator[tuple[TestClient, str]]:
    key = site("api-key", "create", "office").stdout.strip()
    with client_for(site) as client:
        yield client, key


def test_a_key_opens_reads_and_writes_and_nothing_else_does(
    keyed: tuple[TestClient, str], site: Trialwatch
) -> None:
    client, key = keyed
    bearer = {"authorization": f"Bearer {key}"}
    assert client.get(f"/api/v1/trials/{NCT}").status_code == 401
    assert client.get(f"/api/v1/trials/{NCT}", headers=bearer).json()["fields"]["nct_id"] == NCT
    assert (
        client.get("/api/v1/trials", headers={"authorization": f"Bearer {key}x"}).status_code == 401
    )
    site("api-key", "revoke", "office")
    refused = client.get("/api/v1/trials", headers=bearer)
    assert refused.status_code == 403 and "'office' was revoked" in refused.json()["detail"]


def test_public_read_opens_reads_but_not_writes_nor_an_addresss_subscriptions(
    site: Trialwatch,
) -> None:
    with client_for(site, "public_read = true") as client:
        assert client.get("/api/v1/trials").status_code == 200
        assert client.get(f"/api/v1/trials/{NCT}/changes").status_code == 200
        assert client.post("/api/v1/watches", json={"nct_id": NCT}).status_code == 401
        lookup = client.post("/api/v1/subscriptions/lookup", json={"address": "a@example.org"})
        assert lookup.status_code == 401


def test_a_post_needs_no_cookie_and_a_body_sent_in_chunks_past_the_limit_is_refused(
    keyed: tuple[TestClient, str],
) -> None:
    client, key = keyed
    bearer = {"authorization": f"Bearer {key}"}
    added = client.post("/api/v1/watches", json={"nct_id": "NCT07310784"}, headers=bearer)
    assert added.status_code == 201 and "set-cookie" not in added.headers

    def chunks() -> Iterator[bytes]:
        for _ in range(70):
            yield b"x" * 1024

    too_big = client.post("/api/v1/watches", content=chunks(), headers=bearer)
    assert too_big.status_code == 413
    assert too_big.headers["content-type"] == "application/problem+json"
