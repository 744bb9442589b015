"""The reader's pages in a real browser against a real `trialwatch serve`: find a trial, read
it and its history, open the exact values, find the nearest sites; axe-core finds no serious or
critical accessibility problem; screenshots of the trial page at 1280 and 375 px wide.

The screenshots go to a temporary folder (printed with `-s`), to be looked at, not committed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from conftest import load_fixture
from web_server import WebSite, start_web

from watcher.registry.replay import ReplayRegistry
from watcher.registry.replay_server import ReplayServer
from watcher.service.demo import FEATURED
from watcher.store.database import Store

pytestmark = pytest.mark.slow

TITLE = "A Phase II Trial of LM103 in Advanced Melanoma"


def _by(name: str) -> Any:
    from selenium.webdriver.common.by import By

    return getattr(By, name)


def _text(driver: Any, css: str) -> str:
    return str(driver.find_element(_by("CSS_SELECTOR"), css).text)


def _visible(driver: Any, width: int) -> None:
    metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("web-screenshots")
    print(f"\nscreenshots of the web pages go to {folder}")
    return folder


def test_a_reader_finds_a_trial_by_title_words(web_site: WebSite, chromium: Any) -> None:
    _visible(chromium, 1280)
    chromium.get(f"{web_site.url}/")
    box = chromium.find_element(_by("ID"), "q")
    assert chromium.find_element(_by("CSS_SELECTOR"), "label[for=q]").text.startswith(
        "Trial number"
    )
    box.send_keys("lm103 MELANOMA")
    box.submit()
    assert _text(chromium, "main h2") == "Trials found"
    chromium.find_element(_by("LINK_TEXT"), TITLE).click()
    assert chromium.current_url == f"{web_site.url}/trials/{FEATURED}"
    assert _text(chromium, "h1") == TITLE
    assert "Who can join" in chromium.page_source


def test_a_reader_finds_a_trial_by_its_number_typed_loosely(
    web_site: WebSite, chromium: Any
) -> None:
    chromium.get(f"{web_site.url}/")
    box = chromium.find_element(_by("ID"), "q")
    box.send_keys(f"  {FEATURED.lower()} ")
    box.submit()  # returns before the browser has followed the redirect: wait for it
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    wanted = f"{web_site.url}/trials/{FEATURED}"
    with contextlib.suppress(TimeoutException):  # the assertion below says what was found
        WebDriverWait(chromium, 10).until(expected_conditions.url_to_be(wanted))
    assert chromium.current_url == wanted


def test_an_unknown_number_and_unknown_words_are_plain_messages(
    web_site: WebSite, chromium: Any
) -> None:
    chromium.get(f"{web_site.url}/?q=NCT00000001")
    message = _text(chromium, ".message")
    assert "This site does not follow NCT00000001" in message
    assert "https://clinicaltrials.gov/study/NCT00000001" in message
    chromium.get(f"{web_site.url}/?q=unicorn+zebra")
    assert "No trial this site follows has all of these words" in _text(chromium, ".message")


def test_a_reader_reads_the_history_and_opens_the_exact_values(
    web_site: WebSite, chromium: Any
) -> None:
    chromium.get(f"{web_site.url}/trials/{FEATURED}")
    chromium.find_element(_by("LINK_TEXT"), "What changed").click()
    history = chromium.find_element(_by("CSS_SELECTOR"), "section.change")
    assert re.fullmatch(
        r"[A-Z][a-z]+ \d{1,2}, \d{4}", history.find_element(_by("TAG_NAME"), "h3").text
    )
    first = history.find_element(_by("TAG_NAME"), "li")
    assert first.text.startswith("This study has started looking for people to join.")
    exact = first.find_element(_by("CSS_SELECTOR"), "pre.exact")
    assert not exact.is_displayed()  # one click away, not on the page yet
    first.find_element(_by("TAG_NAME"), "summary").click()
    assert exact.is_displayed()
    assert "NOT_YET_RECRUITING → RECRUITING" in exact.text
    # the newest first: the story begins before the change it tells
    assert "Looking for people since" in _text(chromium, "ul.story")


def test_the_coordinators_view_shows_exact_values_open(web_site: WebSite, chromium: Any) -> None:
    chromium.get(f"{web_site.url}/trials/{FEATURED}")
    chromium.find_element(_by("PARTIAL_LINK_TEXT"), "Exact values").click()
    assert chromium.current_url.endswith("?view=exact")
    assert "Inclusion criteria" in chromium.page_source
    assert "Overall status: NOT_YET_RECRUITING → RECRUITING" in _text(chromium, "section.change")
    assert not chromium.find_elements(_by("TAG_NAME"), "details")


def test_a_reader_sees_the_sites_nearest_a_place(web_site: WebSite, chromium: Any) -> None:
    chromium.get(f"{web_site.url}/trials/NCT07227597")
    place = chromium.find_element(_by("ID"), "near")
    place.send_keys("Boston, MA")
    place.submit()
    assert "near=Boston" in chromium.current_url
    listed = _text(chromium, "#sites ~ p")
    assert listed.startswith("Nearest to Boston, Massachusetts")
    assert re.search(r"\(\d[\d,]* (km|miles?)", _text(chromium, "ul.sites")) or "near" in _text(
        chromium, "ul.sites"
    )
    chromium.get(f"{web_site.url}/trials/NCT07227597?near=Atlantis")
    assert "does not know the place “Atlantis”" in _text(chromium, ".message")
    assert chromium.find_elements(_by("CSS_SELECTOR"), "ul.sites li")


def test_feeds_and_clinicaltrials_gov_are_linked(web_site: WebSite) -> None:
    page = httpx.get(f"{web_site.url}/trials/{FEATURED}").text
    for link in (f"/feeds/trials/{FEATURED}.atom", f"/feeds/trials/{FEATURED}.rss"):
        assert f'href="{link}"' in page
        assert httpx.get(f"{web_site.url}{link}").status_code == 200
    assert f'href="https://clinicaltrials.gov/study/{FEATURED}"' in page


def test_an_unwatched_or_ill_formed_number_is_a_404_page(web_site: WebSite) -> None:
    for path in ("/trials/NCT00000001", "/trials/NCT123", "/trials/<script>"):
        response = httpx.get(f"{web_site.url}{path}")
        assert response.status_code == 404
        assert "This site does not follow a trial with that number" in response.text
        assert "<script>" not in response.text


AXE_PAGES = ("/", f"/trials/{FEATURED}", f"/trials/{FEATURED}?view=exact", "/trials/NCT00000001")


@pytest.mark.parametrize("path", AXE_PAGES)
def test_axe_finds_no_serious_or_critical_violation(
    web_site: WebSite, chromium: Any, path: str
) -> None:
    axe_module = pytest.importorskip("axe_selenium_python", reason="axe-selenium-python missing")
    for width in (1280, 375):
        _visible(chromium, width)
        chromium.get(f"{web_site.url}{path}")
        axe = axe_module.Axe(chromium)
        axe.inject()
        results = axe.run()
        bad = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
        assert not bad, axe.report(bad)


def test_the_trial_page_reads_at_1280_and_375_px(
    web_site: WebSite, chromium: Any, screenshots: Path
) -> None:
    for width in (1280, 375):
        _visible(chromium, width)
        chromium.get(f"{web_site.url}/trials/{FEATURED}")
        height = chromium.execute_script("return document.documentElement.scrollHeight")
        scroll = chromium.execute_script("return document.documentElement.scrollWidth")
        assert scroll <= width, f"sideways scrolling at {width} px: {scroll} px wide"
        size = float(
            chromium.execute_script("return parseFloat(getComputedStyle(document.body).fontSize)")
        )
        assert size >= 16
        metrics = {
            "width": width,
            "height": int(height),
            "deviceScaleFactor": 1,
            "mobile": width < 600,
        }
        chromium.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        shot = screenshots / f"trial-{width}.png"
        shot.write_bytes(chromium.get_screenshot_as_png())
        print(f"  {shot}")
    _visible(chromium, 1280)
    chromium.get(f"{web_site.url}/?q=melanoma")
    (screenshots / "search-1280.png").write_bytes(chromium.get_screenshot_as_png())
    chromium.get(f"{web_site.url}/trials/NCT00000001")
    (screenshots / "404-1280.png").write_bytes(chromium.get_screenshot_as_png())


def test_the_pages_read_at_200_percent_zoom(web_site: WebSite, chromium: Any) -> None:
    """WCAG 1.4.4: a 1280 px window zoomed to 200 % lays pages out in 640 CSS px at twice the
    pixels; nothing may need sideways scrolling, and the form keeps its labels in view."""
    zoomed = {"width": 640, "height": 900, "deviceScaleFactor": 2, "mobile": False}
    chromium.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", zoomed)
    try:
        for path in ("/", f"/trials/{FEATURED}", "/?q=melanoma"):
            chromium.get(f"{web_site.url}{path}")
            scroll = chromium.execute_script("return document.documentElement.scrollWidth")
            assert scroll <= 640, f"{path}: sideways scrolling at 200 %: {scroll} CSS px wide"
        label = chromium.find_element("css selector", "label[for]")
        assert label.is_displayed() and label.rect["x"] + label.rect["width"] <= 640
    finally:
        _visible(chromium, 1280)


def test_no_token_reaches_the_servers_log(web_site: WebSite) -> None:
    token = web_site.demo.unsubscribe_token
    for path in (f"/unsubscribe/{token}", f"/confirm/{token}", f"/manage/{token}"):
        httpx.get(f"{web_site.url}{path}")
    feeds = web_site.demo.feeds[2]
    private = httpx.get(f"{web_site.url}/feeds/private/{feeds.name}")
    assert private.status_code == 200
    deadline = time.monotonic() + 5  # the line is written once the answer has gone out
    while '"GET /feeds/private/… HTTP/1.1" 200' not in web_site.log():
        assert time.monotonic() < deadline, web_site.log()
        time.sleep(0.05)
    log = web_site.log()
    assert token not in log
    assert feeds.stem not in log


@pytest.fixture
def open_site(tmp_path: Path) -> Iterator[str]:
    """A site that adds the trials readers ask for, up to 2 in all; one trial is watched
    already but not checked yet; the registry lists two more."""
    listed = {
        "NCT06911827": load_fixture("NCT06911827__partrita-tigit__2026-02-26__0763c69c.json"),
        "NCT07227597": load_fixture("NCT07227597__partrita-tigit__2026-03-10__66773312.json"),
    }
    with Store(tmp_path / "t.db") as store:
        store.add_watches(["NCT05935098"], datetime(2026, 3, 1, tzinfo=UTC))
    with ReplayServer(ReplayRegistry(listed)) as replay:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[registry]\nbase_url = "{replay.base_url}"\nrequests_per_minute = 0\n'
            f"timeout_s = 2.0\nmax_retries = 0\n\n"
            f'[storage]\ndatabase = "{tmp_path / "t.db"}"\n\n'
            '[web]\nlisten = "127.0.0.1:0"\nallow_new_trials = true\nmax_trials = 2\n',
            encoding="utf-8",
        )
        with start_web(config, tmp_path) as server:
            yield server.url


def test_a_new_trial_is_fetched_watched_and_shown_up_to_the_cap(open_site: str) -> None:
    url = open_site
    waiting = httpx.get(f"{url}/trials/NCT05935098")
    assert waiting.status_code == 404
    assert "has not read it from ClinicalTrials.gov yet" in waiting.text
    unknown = httpx.get(f"{url}/?q=NCT00000002")
    assert "ClinicalTrials.gov has no such trial" in unknown.text
    answer = httpx.get(f"{url}/?q=NCT06911827", follow_redirects=True)
    assert answer.url.path == "/trials/NCT06911827"
    assert answer.status_code == 200
    assert "<h2>Who can join</h2>" in answer.text
    assert "Nothing has changed since this site started following the trial" in answer.text
    full = httpx.get(f"{url}/?q=NCT07227597")
    assert "follows as many trials as it can already" in full.text
    assert httpx.get(f"{url}/trials/NCT07227597").status_code == 404
    limited = httpx.get(f"{url}/?q=NCT00000003")
    assert limited.status_code == 429
    assert "try again later" in limited.text


def test_demo_serve_prints_the_url_of_its_web_front(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("TRIALWATCH_CONFIG", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "watcher", "demo", "--serve", "--dir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Read it on the web: "):
                break
        assert len(lines) <= 62, "".join(lines)
        url = line.split()[5]
        assert url.endswith(f"/trials/{FEATURED}")
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200
        assert f"<h1>{TITLE}</h1>" in page.text
        _subscribe_confirm_and_leave(url, tmp_path / "demo" / "maildir")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
    assert "Traceback" not in (process.stderr.read() if process.stderr else "")


def _arrived(maildir: Path, subject: str, to: str = "newcomer@example.org") -> EmailMessage:
    """The message to `to` with this subject start, once the demo's mail carrier has delivered
    it (the demo's own patient has emails there too)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for path in (maildir / "new").glob("*"):
            message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
            if message["To"] == to and str(message["Subject"]).startswith(subject):
                return cast(EmailMessage, message)
        time.sleep(0.2)
    raise AssertionError(f"no email {subject!r} reached {maildir}")


def _subscribe_confirm_and_leave(url: str, maildir: Path) -> None:
    """A newcomer on `demo --serve` alone (no daemon): subscribe on the page, confirm from the
    link in the Maildir, and leave by the one-click POST a mail provider makes."""
    site = url.split("/trials/")[0]
    with httpx.Client(timeout=10) as reader:
        form = reader.get(url).text
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form)
        assert csrf is not None
        sent = reader.post(
            f"{url}/subscribe", data={"csrf": csrf.group(1), "address": "newcomer@example.org"}
        )
        assert "Check your email" in sent.text
        asked = _arrived(maildir, "Please confirm")
        body = asked.get_body(("plain",))
        assert body is not None
        link = re.search(r"(http://\S+/confirm/\S+)", str(body.get_content()))
        assert link is not None and link.group(1).startswith(site)
        button = reader.get(link.group(1)).text
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', button)
        assert csrf is not None
        done = reader.post(link.group(1), data={"csrf": csrf.group(1)})
        assert done.status_code == 200
    welcome = _arrived(maildir, f"You now follow {FEATURED}")
    leave = re.search(r"<(http://[^>]+)>", str(welcome["List-Unsubscribe"]))
    assert leave is not None and leave.group(1).startswith(f"{site}/unsubscribe/")
    provider = httpx.post(leave.group(1), data={"List-Unsubscribe": "One-Click"}, timeout=10)
    assert provider.status_code == 200
    with Store(maildir.parent / "trialwatch.db") as store:
        assert store.subscriber(email="newcomer@example.org") is None  # left, and forgotten


def test_demo_json_names_the_web_front(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "watcher",
            "demo",
            "--serve",
            "--json",
            "--dir",
            str(tmp_path / "d"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    try:
        assert process.stdout is not None
        text = ""
        for line in process.stdout:
            text += line
            if line.startswith("}"):
                break
        data = json.loads(text)
        assert httpx.get(f"{data['web']}/healthz").text == "ok\n"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
