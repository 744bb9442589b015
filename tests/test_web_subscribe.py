"""Subscribing, confirming, managing and leaving on the web, through Starlette's TestClient on
a real state (a watched trial with a stored version, SQLite, the Maildir): what the person sees
at each step, the page that is the same for every address, the one-click POST a mail provider
makes without a cookie, and the guards (CSRF, the per-client limit)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import Trialwatch
from starlette.testclient import TestClient
from test_confirm import NCT, mails, seeded, settings_of, site, subscribers, text_of

from watcher.web.app import create_app
from watcher.web.context import WebContext
from watcher.web.subscribe import ClientLimit

__all__ = ["seeded", "site"]  # fixtures, imported for their names

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
# Not "testserver": without [web] base_url, links are only made for a loopback host.
BASE = "http://127.0.0.1"


def client_for(trialwatch: Trialwatch, now: datetime = NOW, **web: int) -> TestClient:
    ctx = WebContext(settings_of(trialwatch, **web), lambda: now)
    return TestClient(create_app(ctx), base_url=BASE)


@pytest.fixture
def web(site: Trialwatch) -> Iterator[TestClient]:
    with client_for(site) as client:
        yield client


def csrf(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get(path).text)
    assert found, f"no form on {path}"
    return found[1]


def ask(client: TestClient, address: str, **fields: str) -> tuple[int, str]:
    token = csrf(client, f"/trials/{NCT}")
    answer = client.post(
        f"/trials/{NCT}/subscribe", data={"csrf": token, "address": address, **fields}
    )
    return answer.status_code, answer.text


def link(trialwatch: Trialwatch, path: str) -> str:
    trialwatch("deliver")
    found = [
        m[1]
        for message in mails(trialwatch)
        for m in [re.search(rf"{BASE}(/{path}/\S+)", text_of(message))]
        if m
    ]
    assert found, [m["Subject"] for m in mails(trialwatch)]
    return found[-1]


def words(html: str) -> str:
    """The visible text of a page, roughly: tags out, spaces folded."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_trial_page_carries_a_labelled_subscribe_form(web: TestClient) -> None:
    """Address, how often, place and distance, each with its label, posting to the trial."""
    html = web.get(f"/trials/{NCT}").text
    assert f'action="/trials/{NCT}/subscribe"' in html
    for field_id, label in (
        ("sub-address", "Your email address"),
        ("sub-near", "Where you live (optional)"),
        ("sub-within", "How far you can travel"),
    ):
        assert f'<label for="{field_id}">{label}</label>' in html
        assert f'id="{field_id}"' in html
    assert "<legend>How often</legend>" in html


def test_the_same_page_answers_a_new_a_known_and_a_limited_address(
    site: Trialwatch,
) -> None:
    """New address, an address already subscribed, and one over its daily limit: the same
    status and the same words; only the Maildir knows the difference."""
    site("subscribe", "known@example.org", NCT)
    with client_for(site, confirmations_per_day=1) as client:
        new = ask(client, "new@example.org")
        known = ask(client, "known@example.org")
        ask(client, "busy@example.org")
        limited = ask(client, "busy@example.org")
    assert new == known == limited
    assert new[0] == 200 and "Check your email" in words(new[1])
    site("deliver")
    to = sorted(str(m["To"]) for m in mails(site) if not m["Subject"].startswith("You now"))
    assert to == ["busy@example.org", "known@example.org", "new@example.org"]


def test_a_form_with_problems_comes_back_with_each_on_its_field(web: TestClient) -> None:
    """400, the list of problems first, each field marked invalid and described by its
    problem, what was typed kept."""
    status, html = ask(web, "pat@", near="Bostn, Nowhere")
    assert status == 400
    assert "Please check the form" in words(html)
    assert 'aria-describedby="sub-address-problem" aria-invalid="true"' in html
    assert re.search(r'id="sub-near"[^>]*aria-describedby="sub-near-hint sub-near-problem"', html)
    assert 'id="sub-address-problem"' in html and "is not an email address" in html
    assert 'value="Bostn, Nowhere"' in html


def test_a_post_without_the_csrf_token_is_refused(web: TestClient) -> None:
    """A form from another site (no token) stores nothing: a 403 page in plain words."""
    answer = web.post(f"/trials/{NCT}/subscribe", data={"address": "pat@example.org"})
    assert answer.status_code == 403
    assert "This form could not be sent" in answer.text


def test_opening_the_confirmation_link_does_nothing_and_the_button_subscribes_once(
    site: Trialwatch, web: TestClient
) -> None:
    """GET (a mail scanner) shows one button and subscribes nobody; the button subscribes and
    links to the manage page; pressing it again says it was already used."""
    ask(web, "pat@example.org")
    path = link(site, "confirm")
    shown = web.get(path)
    assert shown.status_code == 200
    assert "Start your emails" in words(shown.text) and "Yes, send me these emails" in shown.text
    assert subscribers(site) == []
    done = web.post(path, data={"csrf": csrf(web, path)})
    assert "You are subscribed" in words(done.text)
    assert [p["email"] for p in site.json("subscribers")] == ["pat@example.org"]
    manage = re.search(r'href="(/manage/[^"]+)"', done.text)
    assert manage is not None and "Your emails" in web.get(manage[1]).text
    again = web.post(path, data={"csrf": csrf(web, f"/trials/{NCT}")})
    assert "This link was already used" in words(again.text)
    assert web.get("/confirm/not-a-token").status_code == 404


def test_one_click_unsubscribe_works_without_a_cookie_the_page_needs_its_token(
    site: Trialwatch, web: TestClient
) -> None:
    """RFC 8058: the provider's POST (no cookie, no CSRF field) ends everything with 200; the
    GET page only asks; its button without the CSRF token is refused."""
    site("subscribe", "pat@example.org", NCT)
    token = next(iter(_tokens(site)))
    path = f"/unsubscribe/{token}"
    assert "Stop all my emails" in web.get(path).text
    assert web.post(path, data={"confirm": "yes"}).status_code == 403
    assert len(subscribers(site)) == 1
    provider = TestClient(web.app, base_url=BASE)  # a fresh client: no cookie at all
    answer = provider.post(path, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert subscribers(site) == []
    assert "No emails to stop" in words(web.get(path).text)


def test_the_manage_page_changes_and_ends_a_subscription(site: Trialwatch, web: TestClient) -> None:
    """The page lists the trial and the private feed; saving a new digest shows it; ending
    the last subscription says they are out."""
    site("subscribe", "pat@example.org", NCT)
    token = next(iter(_tokens(site)))
    page = web.get(f"/manage/{token}").text
    assert NCT in page and "Your private feed" in page and "/feeds/private/" in page
    saved = web.post(
        f"/manage/{token}/change",
        data={"csrf": csrf(web, f"/manage/{token}"), "nct_id": NCT, "delivery": "weekly"},
    )
    assert saved.status_code == 200 and f"Saved: {NCT}" in saved.text
    assert "Now: One email a week" in words(saved.text)
    assert 'value="50km" selected' not in saved.text
    ended = web.post(
        f"/manage/{token}/end", data={"csrf": csrf(web, f"/manage/{token}"), "nct_id": NCT}
    )
    assert "You will get no more emails" in words(ended.text)
    assert subscribers(site) == []


def test_a_client_over_its_hourly_limit_gets_a_429_page(site: Trialwatch) -> None:
    """With `subscribe_per_hour = 2`, the third request from one client is refused in words."""
    with client_for(site, subscribe_per_hour=2) as client:
        statuses = [ask(client, f"p{n}@example.org")[0] for n in range(3)]
        refused = ask(client, "p9@example.org")[1]
    assert statuses == [200, 200, 429]
    assert "Please wait a little" in refused


def test_the_client_limit_is_a_sliding_window() -> None:
    """Requests leave the window an hour after they came; other clients are counted apart."""
    limit = ClientLimit(2, window_s=3600)
    assert [limit.allow("a", t) for t in (0, 10, 20)] == [True, True, False]
    assert limit.allow("b", 20)
    assert limit.allow("a", 3601) and not limit.allow("a", 3605)


def _tokens(trialwatch: Trialwatch) -> list[str]:
    from watcher.store.database import Store

    with Store(trialwatch.state_dir / "trialwatch.db") as store:
        return [s.unsubscribe_token for s, _ in store.subscriptions()]


def test_a_link_opened_after_48_hours_says_it_has_ended(site: Trialwatch, web: TestClient) -> None:
    """410 and plain words, on opening and on pressing; nobody is subscribed."""
    ask(web, "pat@example.org")
    path = link(site, "confirm")
    with client_for(site, NOW + timedelta(hours=48, seconds=1)) as later:
        shown = later.get(path)
        pressed = later.post(path, data={"csrf": csrf(later, f"/trials/{NCT}")})
    assert shown.status_code == pressed.status_code == 410
    assert "This link has ended" in words(shown.text) and "ask again" in shown.text
    assert "This link has ended" in words(pressed.text)
    assert subscribers(site) == []
