"""Saved searches on the web, through Starlette's TestClient on a real state (SQLite on disk, a
watched trial with a stored version, the Maildir): the search's page in plain words with its
matches, subscribing with double opt-in, the confirmation and welcome emails, the manage page's
"end" button, and the one-click link of a search's emails that ends that search only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import cast

import pytest
from conftest import Trialwatch
from starlette.testclient import TestClient
from test_confirm import NCT, mails, seeded, site, text_of
from test_web_subscribe import BASE, client_for, csrf, words

from watcher.core.clean import clean_record
from watcher.core.distance import Radius
from watcher.core.notify import Letterhead
from watcher.core.places import Near
from watcher.core.record import parse_trial
from watcher.core.search import SavedSearch, new_search
from watcher.core.search_notice import match_section, matches_email, search_welcome_email
from watcher.core.subscriptions import Subscriber
from watcher.data import load_glossary
from watcher.delivery.templates import render
from watcher.store.database import Store

__all__ = ["seeded", "site"]  # fixtures, imported for their names

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
NAME = "lung cancer-tel aviv"  # a space in the name: its URL is quoted
PATH = "/searches/lung%20cancer-tel%20aviv"
ELSEWHERE = "NCT09999991"  # a match this site does not watch
HEAD = Letterhead("trialwatch <tw@example.org>", "https://watch.example.org")  # a site's
TEL_AVIV = Near("Tel Aviv, Israel", (32.08088, 34.78057), Radius(100, "km"))


def add_search(trialwatch: Trialwatch) -> None:
    """A saved search near Tel Aviv that has matched the watched trial (in its first run) and,
    a release later, a trial this site does not watch."""
    with _store(trialwatch) as store:
        search = store.add_search(
            new_search(NAME, condition="lung cancer", status="recruiting", near=TEL_AVIV), NOW
        )
        store.save_search_run(
            search, "2026-02-01", NOW - timedelta(days=20), new=[NCT], baseline=True
        )
        store.save_search_run(
            search, "2026-02-20", NOW - timedelta(days=1), new=[ELSEWHERE], baseline=False
        )


@pytest.fixture
def searched(site: Trialwatch) -> Trialwatch:
    """The seeded site with the search (`add_search`)."""
    add_search(site)
    return site


@pytest.fixture
def web(searched: Trialwatch) -> Iterator[TestClient]:
    with client_for(searched) as client:
        yield client


def _store(trialwatch: Trialwatch) -> Store:
    return Store(trialwatch.state_dir / "trialwatch.db")


def ask(client: TestClient, address: str, path: str = PATH) -> tuple[int, str]:
    answer = client.post(f"{path}/subscribe", data={"csrf": csrf(client, path), "address": address})
    return answer.status_code, answer.text


def delivered(trialwatch: Trialwatch) -> list[EmailMessage]:
    trialwatch("deliver")
    return mails(trialwatch)


def link(trialwatch: Trialwatch, path: str, subject: str) -> str:
    (message,) = [m for m in delivered(trialwatch) if m["Subject"].startswith(subject)]
    found = re.search(rf"{BASE}(/{path}/\S+)", text_of(message))
    assert found, text_of(message)
    return found[1]


def confirmed(trialwatch: Trialwatch, client: TestClient, address: str) -> str:
    """Ask, open the confirmation link and press its button; the manage page's path."""
    ask(client, address)
    path = link(trialwatch, "confirm", "Please confirm")
    done = client.post(path, data={"csrf": csrf(client, path)})
    manage = re.search(r'href="(/manage/[^"]+)"', done.text)
    assert manage, done.text
    return manage[1]


def followers(trialwatch: Trialwatch) -> list[str]:
    with _store(trialwatch) as store:
        search = store.search(NAME)
        assert search is not None
        return [p.email for p in store.search_subscribers(search.id)]


def test_the_home_page_links_to_the_searches_only_when_there_are_some(site: Trialwatch) -> None:
    with client_for(site) as before:
        assert 'href="/searches"' not in before.get("/").text
    add_search(site)
    with client_for(site) as client:
        assert 'href="/searches"' in client.get("/").text
        listing = client.get("/searches").text
    assert f'href="{PATH}"' in listing and "condition “lung cancer”" in listing


def test_a_search_page_says_what_it_looks_for_and_what_it_found_newest_first(
    web: TestClient,
) -> None:
    """The search in plain words; its two matches, the newest first: the trial not watched
    here links to ClinicalTrials.gov, the watched one to its page, with its key facts (the
    nearest site, with its distance, is in the browser journey, on the demo's trials)."""
    answer = web.get(PATH)
    assert answer.status_code == 200
    seen = words(answer.text)
    assert "New trials for the search “lung cancer-tel aviv”" in seen
    assert "Condition lung cancer Status Recruiting" in seen
    assert "Where A site within 100 km of Tel Aviv, Israel" in seen
    assert seen.index(ELSEWHERE) < seen.index(NCT)
    assert f'href="https://clinicaltrials.gov/study/{ELSEWHERE}"' in answer.text
    assert f'href="/trials/{NCT}"' in answer.text
    assert "Gocatamig" in seen  # the stored trial's title, and its key facts
    assert "You must be at least 18 years old." in seen
    assert "Nearest site" not in seen  # its stored version lists no site yet
    assert "when the search started" in seen
    assert web.get("/searches/no-such-search").status_code == 404


def test_the_same_page_answers_a_new_a_known_and_a_limited_address(searched: Trialwatch) -> None:
    """As on a trial's page: the same status and words; only the Maildir knows."""
    with _store(searched) as store:
        store.subscribe_search("known@example.org", NAME, NOW)
    with client_for(searched, confirmations_per_day=1) as client:
        new = ask(client, "new@example.org")
        known = ask(client, "known@example.org")
        ask(client, "busy@example.org")
        limited = ask(client, "busy@example.org")
    assert new == known == limited
    assert new[0] == 200 and "Check your email" in words(new[1])
    assert f'href="{PATH}"' in new[1]
    subjects = {str(m["To"]): m["Subject"] for m in delivered(searched)}
    assert subjects == {
        "new@example.org": f"Please confirm: emails about new trials for the search “{NAME}”",
        "busy@example.org": f"Please confirm: emails about new trials for the search “{NAME}”",
        "known@example.org": f"You already follow the search “{NAME}”",
    }


def test_the_confirmation_says_what_the_search_is_and_the_button_subscribes_once(
    searched: Trialwatch, web: TestClient
) -> None:
    """The email says the search in plain words; opening its link subscribes nobody; the
    button subscribes to the search (and nothing else) and a welcome follows; again: used."""
    ask(web, "pat@example.org")
    (request,) = delivered(searched)
    text = text_of(request)
    assert "The search looks for condition “lung cancer”, status recruiting" in text
    assert "within 100 km of Tel Aviv, Israel" in text
    assert "If this was not you, do nothing" in text
    path = link(searched, "confirm", "Please confirm")
    shown = web.get(path)
    assert "Start your emails" in words(shown.text) and NAME in words(shown.text)
    assert followers(searched) == []
    done = web.post(path, data={"csrf": csrf(web, path)})
    assert "You are subscribed" in words(done.text)
    assert followers(searched) == ["pat@example.org"]
    assert searched.json("subscribers") == []  # no trial subscription came with it
    again = web.post(path, data={"csrf": csrf(web, PATH)})
    assert "This link was already used" in words(again.text)
    (welcome,) = [m for m in delivered(searched) if m["Subject"].startswith("You now follow")]
    assert welcome["Subject"] == f"You now follow the search “{NAME}”"
    said = text_of(welcome)
    assert "Trials that matched before today are not sent" in said
    assert "it stops this search only" in said
    assert "To stop these emails" in said  # no [web] base_url here: the mailto: way


def test_a_form_with_a_bad_address_comes_back_with_the_problem_on_its_field(
    web: TestClient,
) -> None:
    status, html = ask(web, "pat@")
    assert status == 400
    assert 'aria-describedby="sub-address-problem" aria-invalid="true"' in html
    assert "is not an email address" in html and 'value="pat@"' in html


def test_a_post_without_the_csrf_token_is_refused(web: TestClient) -> None:
    answer = web.post(f"{PATH}/subscribe", data={"address": "pat@example.org"})
    assert answer.status_code == 403


def test_the_per_client_limit_counts_trial_and_search_requests_together(
    searched: Trialwatch,
) -> None:
    with client_for(searched, subscribe_per_hour=2) as client:
        statuses = [ask(client, "a@example.org", f"/trials/{NCT}")[0]]
        statuses += [ask(client, f"p{n}@example.org")[0] for n in range(2)]
    assert statuses == [200, 200, 429]


def test_a_link_opened_after_48_hours_has_ended(searched: Trialwatch, web: TestClient) -> None:
    ask(web, "pat@example.org")
    path = link(searched, "confirm", "Please confirm")
    with client_for(searched, NOW + timedelta(hours=48, seconds=1)) as later:
        assert later.get(path).status_code == 410
    assert followers(searched) == []


def test_a_link_to_a_search_removed_since_sets_up_nothing(
    searched: Trialwatch, web: TestClient
) -> None:
    ask(web, "pat@example.org")
    path = link(searched, "confirm", "Please confirm")
    searched("search", "remove", NAME)
    shown = web.get(path)
    assert shown.status_code == 410 and "no longer followed here" in words(shown.text)
    pressed = web.post(path, data={"csrf": csrf(web, f"/trials/{NCT}")})
    assert pressed.status_code == 410
    assert searched.json("subscribers") == []


def test_the_manage_page_lists_the_search_and_ends_it_alone(
    searched: Trialwatch, web: TestClient
) -> None:
    """A subscriber of a trial and of the search: the page shows both; ending the search
    keeps the trial; ending the trial then forgets them."""
    searched("subscribe", "pat@example.org", NCT)
    manage = confirmed(searched, web, "pat@example.org")
    page = words(web.get(manage).text)
    assert f"Search: {NAME}" in page and NCT in page
    assert f"Stop emails about the search “{NAME}”" in page
    ended = web.post(f"{manage}/end-search", data={"csrf": csrf(web, manage), "search": NAME})
    assert ended.status_code == 200
    assert f"No more emails about the search “{NAME}”" in words(ended.text)
    assert f"Search: {NAME}" not in words(ended.text)
    assert followers(searched) == []
    assert [p["email"] for p in searched.json("subscribers")] == ["pat@example.org"]
    again = web.post(f"{manage}/end-search", data={"csrf": csrf(web, manage), "search": NAME})
    assert "No more emails about the search" not in words(again.text)  # nothing was ended


def test_ending_the_only_search_on_the_manage_page_forgets_the_subscriber(
    searched: Trialwatch, web: TestClient
) -> None:
    manage = confirmed(searched, web, "pat@example.org")
    ended = web.post(f"{manage}/end-search", data={"csrf": csrf(web, manage), "search": NAME})
    assert "You will get no more emails" in words(ended.text)
    with _store(searched) as store:
        assert store.subscriber(email="pat@example.org") is None


def test_a_search_email_carries_a_one_click_link_that_ends_that_search_only(
    searched: Trialwatch, web: TestClient
) -> None:
    """The search's notice: List-Unsubscribe names the search's own https link with RFC 8058's
    header; the provider's POST (no cookie) ends the search, not the trial; the link's GET
    page only asks; its button needs the CSRF token."""
    searched("subscribe", "pat@example.org", NCT)
    with _store(searched) as store:
        person, _ = store.subscribe_search("pat@example.org", NAME, NOW)
        search = store.search(NAME)
    assert search is not None
    notice = _notice(searched, person, search)
    targets = re.findall(r"<([^>]+)>", str(notice["List-Unsubscribe"]))
    path = f"/unsubscribe/{person.unsubscribe_token}/searches/{search.id}"
    assert targets[0] == f"https://watch.example.org{path}"
    assert notice["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"To stop the emails of this search, open https://watch.example.org{path}" in (
        text_of(notice)
    )
    welcome = _read(
        search_welcome_email(person, search, letterhead=HEAD, render=render, now=NOW).body
    )
    assert f"<https://watch.example.org{path}>" in str(welcome["List-Unsubscribe"])
    assert f"https://watch.example.org{PATH}" in text_of(welcome)  # the search's page
    shown = web.get(path)
    assert shown.status_code == 200 and "Stop the emails of this search" in shown.text
    assert web.post(path, data={"confirm": "yes"}).status_code == 403
    provider = TestClient(web.app, base_url=BASE)  # no cookie at all
    assert provider.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert followers(searched) == []
    assert [p["email"] for p in searched.json("subscribers")] == ["pat@example.org"]
    assert web.get(path).status_code == 404  # nothing left to stop


def test_subscribe_search_on_the_command_line_sends_a_welcome(searched: Trialwatch) -> None:
    searched("subscribe", "pat@example.org", "--search", NAME)
    searched("subscribe", "pat@example.org", "--search", NAME)  # again: nothing new
    welcomes = [m for m in delivered(searched) if m["Subject"].startswith("You now follow")]
    assert [m["Subject"] for m in welcomes] == [f"You now follow the search “{NAME}”"]
    said = text_of(welcomes[0])
    assert "An email when ClinicalTrials.gov lists a new trial that matches" in said
    assert "To stop" in said


def _notice(trialwatch: Trialwatch, person: Subscriber, search: SavedSearch) -> EmailMessage:
    """The search's notice of the stored trial as a run builds it, on a site with a web front,
    read back as a mail program reads it."""
    head = HEAD
    with _store(trialwatch) as store:
        row = store.trial(NCT)
        assert row is not None and row.current_version is not None
        trial = parse_trial(clean_record(store.record(NCT, row.current_version)))
    section = match_section(trial, search, glossary=load_glossary(), letterhead=head)
    message = matches_email(
        person, search, "2026-03-01", [section], letterhead=head, render=render, now=NOW
    )
    return _read(message.body)


def _read(body: bytes) -> EmailMessage:
    return cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(body))
