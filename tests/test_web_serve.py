"""`trialwatch serve` as a real process: it starts on [web] listen, answers, stops on SIGTERM."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from web_server import WebSite, start_web

from watcher.web.security import HEADERS

pytestmark = pytest.mark.slow


def test_the_server_answers_health_pages_and_feeds(web_site: WebSite) -> None:
    assert httpx.get(f"{web_site.url}/healthz").text == "ok\n"
    home = httpx.get(f"{web_site.url}/")
    assert home.status_code == 200
    assert all(home.headers[name] == value for name, value in HEADERS.items())
    feed = httpx.get(f"{web_site.url}/feeds/all.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    again = httpx.get(
        f"{web_site.url}/feeds/all.atom", headers={"if-none-match": feed.headers["etag"]}
    )
    assert again.status_code == 304
    assert all(again.headers[name] == value for name, value in HEADERS.items())
    assert again.headers["etag"] == feed.headers["etag"]
    since = {"if-modified-since": feed.headers["last-modified"]}
    assert httpx.get(f"{web_site.url}/feeds/all.atom", headers=since).status_code == 304
    old = {"if-modified-since": "Mon, 01 Jan 2001 00:00:00 GMT"}
    assert httpx.get(f"{web_site.url}/feeds/all.atom", headers=old).status_code == 200
    assert '"GET /feeds/all.atom HTTP/1.1" 304' in web_site.log()


def test_an_address_in_use_is_one_error_line(tmp_path: Path, web_site: WebSite) -> None:
    taken = web_site.url.removeprefix("http://")
    config = tmp_path / "config.toml"
    config.write_text(f'[web]\nlisten = "{taken}"\n', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(config), "serve"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"STATE_DIRECTORY": str(tmp_path), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 78
    assert done.stderr.startswith(f"Error: [web].listen {taken}: cannot listen there")
    assert "Traceback" not in done.stderr


def test_sigterm_stops_the_server_gracefully(tmp_path: Path) -> None:
    """SIGTERM: requests in flight finish, the app's shutdown runs (closing the database)."""
    config = tmp_path / "config.toml"
    config.write_text('[web]\nlisten = "127.0.0.1:0"\n', encoding="utf-8")
    with start_web(config, tmp_path) as server:
        assert httpx.get(f"{server.url}/healthz").status_code == 200
    assert "Application shutdown complete" in server.log()
