"""The web front's guards, through Starlette's TestClient (a real server adds nothing here):
the security headers on every answer, CSRF refusal, the body limit, 404 pages in plain words,
and the access log without tokens."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jinja2 import ChoiceLoader, DictLoader
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from watcher.config import load_settings
from watcher.delivery.templates import environment
from watcher.web.app import create_app
from watcher.web.context import WebContext
from watcher.web.render import PageCache, cached_page, page
from watcher.web.security import CSRF_COOKIE, HEADERS, MAX_BODY_BYTES, require_csrf

FORM = """{% extends "web/_page.html.j2" %}{% block title %}Form{% endblock %}
{% block main %}<h1>Form</h1><form method="post" action="/form">{{ csrf_field() }}
<input name="name"><button>Send</button></form>{% endblock %}"""
TOKEN = "k3Jd9sLqP0aZx7VbN2mC4rT6yU8iO1eW"


@pytest.fixture
def web(tmp_path: Path) -> Iterator[TestClient]:
    """The app on a fresh state directory, with one form route added the way 16b adds its."""
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\ndatabase = "{tmp_path / "t.db"}"\n', encoding="utf-8")
    settings = load_settings(config, env={"STATE_DIRECTORY": str(tmp_path), "HOME": str(tmp_path)})
    templates = environment().overlay(
        loader=ChoiceLoader([DictLoader({"test/form.html.j2": FORM}), environment().loader])  # type: ignore[list-item]
    )
    ctx = WebContext(settings, lambda: datetime(2026, 3, 1, tzinfo=UTC), templates=templates)
    app = create_app(ctx)

    def form(request: Request) -> Response:
        return page(ctx, request, "test/form.html.j2")

    async def post(request: Request) -> Response:
        sent = await require_csrf(request)
        return PlainTextResponse(f"accepted {sent.get('name')}")

    def broken(request: Request) -> Response:
        raise RuntimeError("a bug, with a secret in its message")

    cache = PageCache()

    def cached(request: Request) -> Response:
        return cached_page(ctx, request, cache, "one key", "test/form.html.j2")

    app.router.routes.insert(0, Route("/broken", broken))
    app.router.routes.insert(0, Route("/cached-form", cached))
    app.router.routes.insert(0, Route("/form", form, methods=["GET"]))
    app.router.routes.insert(0, Route("/form", post, methods=["POST"]))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _token(client: TestClient, path: str = "/form") -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get(path).text)
    assert found, "the form carries no CSRF field"
    return found.group(1)


PATHS = (
    "/",
    "/form",
    "/static/site.css",
    "/healthz",
    "/trials/NCT07310784",
    "/trials/not-an-id",
    "/nowhere",
    "/feeds/all.atom",
    "/feeds/private/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.atom",
)


@pytest.mark.parametrize("path", PATHS)
def test_every_answer_carries_the_security_headers(web: TestClient, path: str) -> None:
    """Pages, the stylesheet, the health check, 404s and missing feeds: all the headers."""
    response = web.get(path)
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (path, name)
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_a_refused_form_and_a_too_large_body_carry_the_headers_too(web: TestClient) -> None:
    for response in (
        web.post("/form", data={"name": "x"}),
        web.post("/form", content=b"x" * (MAX_BODY_BYTES + 1)),
    ):
        assert response.status_code in (403, 413)
        assert all(response.headers.get(name) == value for name, value in HEADERS.items())


def test_a_form_with_its_token_is_accepted(web: TestClient) -> None:
    token = _token(web)
    response = web.post("/form", data={"csrf": token, "name": "Ada"})
    assert response.status_code == 200
    assert response.text == "accepted Ada"


def test_the_csrf_cookie_is_private_to_the_site(web: TestClient) -> None:
    cookie = web.get("/form").headers["set-cookie"]
    assert cookie.startswith(f"{CSRF_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie


@pytest.mark.parametrize(
    "case", ["no token", "wrong token", "token of another browser", "no cookie"]
)
def test_a_form_without_a_matching_token_is_refused_in_plain_words(
    web: TestClient, case: str
) -> None:
    token = _token(web)
    data = {"name": "Mallory"}
    if case == "wrong token":
        data["csrf"] = "0" * len(token)
    elif case == "token of another browser":
        web.cookies.clear()
        web.get("/form")  # a new cookie; the old token was bound to the old one
        data["csrf"] = token
    elif case == "no cookie":
        data["csrf"] = token
        web.cookies.clear()
    response = web.post("/form", data=data)
    assert response.status_code == 403
    assert "accepted" not in response.text
    assert "reload the page" in response.text
    assert "<h1>This form could not be sent</h1>" in response.text


def test_a_body_over_the_limit_is_refused_before_it_is_read(web: TestClient) -> None:
    response = web.post(
        "/form",
        content=b"name=" + b"x" * MAX_BODY_BYTES,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413


def test_a_streamed_body_over_the_limit_is_refused(web: TestClient) -> None:
    token = _token(web)

    def chunks() -> Iterator[bytes]:
        yield f"csrf={token}&name=".encode()
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b"x" * 1024

    response = web.post(
        "/form", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413
    assert "accepted" not in response.text


@pytest.mark.parametrize(
    "path", ["/trials/NCT07310784", "/trials/NCT0731078", "/trials/hello", "/nowhere"]
)
def test_an_unknown_page_is_a_404_in_plain_words(web: TestClient, path: str) -> None:
    response = web.get(path)
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in response.text
    assert "Traceback" not in response.text
    assert '<a href="/">Find a trial</a>' in response.text


def test_no_token_reaches_the_access_log(web: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    paths = [
        f"/confirm/{TOKEN}",
        f"/unsubscribe/{TOKEN}",
        f"/manage/{TOKEN}/NCT07310784",
        f"/feeds/private/{TOKEN}.atom",
        f"/feeds/private/{TOKEN}.rss",
    ]
    with caplog.at_level(logging.INFO, logger="trialwatch.web.access"):
        for path in paths:
            web.get(path)
            web.post(path, data={"x": "y"})
    lines = [r.getMessage() for r in caplog.records if r.name == "trialwatch.web.access"]
    assert len(lines) == 2 * len(paths)
    assert not [line for line in lines if TOKEN in line or TOKEN[:8] in line]
    assert '"GET /confirm/… HTTP/1.1" 404' in lines[0]
    assert '"GET /feeds/private/… HTTP/1.1"' in lines[6]


def test_the_access_log_keeps_ordinary_paths_and_drops_the_query(
    web: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="trialwatch.web.access"):
        web.get("/?q=breast+cancer")
        web.get("/feeds/all.atom")
    lines = [r.getMessage() for r in caplog.records if r.name == "trialwatch.web.access"]
    assert lines[0].startswith('"GET / HTTP/1.1" 200')
    assert "cancer" not in lines[0]
    assert lines[1].startswith('"GET /feeds/all.atom HTTP/1.1" 404')


def test_an_unexpected_error_is_a_plain_500_with_the_headers(web: TestClient) -> None:
    response = web.get("/broken")
    assert response.status_code == 500
    assert (
        response.text == "Something went wrong on this site. Please try again in a few minutes.\n"
    )
    assert "secret" not in response.text
    assert all(response.headers.get(name) == value for name, value in HEADERS.items())


def test_a_cached_page_gives_each_browser_its_own_token(web: TestClient) -> None:
    """Rendered once, answered to two browsers: each gets the token of its own cookie."""
    first = _token(web, "/cached-form")
    first_cookie = web.cookies[CSRF_COOKIE]
    web.cookies.clear()
    second = _token(web, "/cached-form")
    assert first != second
    assert web.post("/form", data={"csrf": second, "name": "B"}).text == "accepted B"
    web.cookies.clear()
    web.cookies.set(CSRF_COOKIE, first_cookie)
    assert web.post("/form", data={"csrf": first, "name": "A"}).text == "accepted A"
    assert "trialwatch:csrf-field" not in web.get("/cached-form").text
