"""The subscriber's whole journey in a real browser against a real `trialwatch serve`.

A person subscribes on a trial's page, reads the confirmation email from the Maildir (raw
bytes, decoded as a mail program decodes them), opens its link and presses the button, gets
the welcome email, opens their own page, and leaves: once by the one-click POST a mail provider
makes from the List-Unsubscribe header (no cookie, no page), once by the page's button. Each
step checks what the person sees; axe-core finds no serious or critical problem on any page of
the journey; the page after a request is the same, with the same status, for a new and a known
address. The outbox is drained by `trialwatch deliver`, as the daemon's delivery job would.

`[web] base_url` is a public https address, as on a real site; the test stands in for the TLS
proxy by sending what is under it to the local server. Screenshots (PNG) go to a temporary
folder (printed with `-s`), to be looked at, not committed.
"""

from __future__ import annotations

import mailbox
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from web_server import WebSite, serve_config, start_web

from watcher.registry.replay import ReplayRegistry
from watcher.registry.replay_server import ReplayServer
from watcher.service.demo import PATIENT, demo_versions, run_demo

pytestmark = pytest.mark.slow

PUBLIC = "https://trialwatch.test"  # [web] base_url; the proxy in front is this test
NCT = "NCT07227597"  # a demo trial nobody follows yet


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebSite]:
    """The demo's state served with a public https base URL."""
    state_dir = tmp_path_factory.mktemp("subscribe-site")
    demo = run_demo(lambda _: None, state_dir)
    latest = {nct: versions[-1] for nct, versions in demo_versions().items()}
    with ReplayServer(ReplayRegistry(latest)) as replay:
        serve_config(demo.config, replay.base_url, f'base_url = "{PUBLIC}"\n')
        with start_web(demo.config, state_dir) as server:
            yield WebSite(server.url, state_dir, demo.config, demo, replay, server)


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("subscribe-screenshots")
    print(f"\nscreenshots of the subscribe journey go to {folder}")
    return folder


def by(name: str) -> Any:
    from selenium.webdriver.common.by import By

    return getattr(By, name)


def press(driver: Any, css: str) -> None:
    """Click and wait for the next page: a click returns before the browser has navigated.

    The old page is marked in its window; the new one has loaded when the mark is gone and
    the document is complete. Mid-navigation, Chromium may answer any command with an
    error (such as "Node with given id does not belong to the document") rather than a
    stale element, so the wait ignores WebDriver errors while it polls.
    """
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("window.pressedOnThisPage = true")
    driver.find_element(by("CSS_SELECTOR"), css).click()
    WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script(
            "return window.pressedOnThisPage === undefined && document.readyState === 'complete'"
        )
    )


def heading(driver: Any) -> str:
    return str(driver.find_element(by("CSS_SELECTOR"), "main h1").text)


def accessible(driver: Any) -> None:
    """axe-core on the page in the browser: no serious or critical violation."""
    axe_module = pytest.importorskip("axe_selenium_python", reason="axe-selenium-python missing")
    axe = axe_module.Axe(driver)
    axe.inject()
    bad = [v for v in axe.run()["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, axe.report(bad)


def shoot(driver: Any, folder: Path, name: str) -> None:
    """A PNG of the whole page (the window made as tall as the page first)."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    metrics = {"width": 1280, "height": int(height), "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    driver.save_screenshot(str(folder / f"{name}.png"))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**metrics, "height": 900})


def deliver(site: WebSite) -> list[EmailMessage]:
    """Drain the outbox into the Maildir (`trialwatch deliver`), then every message in it, read
    from its raw bytes as a mail program reads them."""
    env = {**os.environ, "STATE_DIRECTORY": str(site.state_dir), "HOME": str(site.state_dir)}
    subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(site.config), "deliver"],
        check=True,
        env=env,
        capture_output=True,
    )
    box = mailbox.Maildir(site.state_dir / "maildir", create=False)
    parser = BytesParser(policy=policy.default)
    return [cast(EmailMessage, parser.parsebytes(box.get_bytes(key))) for key in box.iterkeys()]


def to(messages: list[EmailMessage], address: str, subject: str) -> EmailMessage:
    (found,) = [m for m in messages if m["To"] == address and m["Subject"].startswith(subject)]
    return found


def text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def local(site: WebSite, url: str) -> str:
    """What the proxy does: the public URL, served by the local server."""
    assert url.startswith(PUBLIC + "/"), url
    return site.url + url.removeprefix(PUBLIC)


def subscribed(site: WebSite) -> set[str]:
    env = {**os.environ, "STATE_DIRECTORY": str(site.state_dir), "HOME": str(site.state_dir)}
    listed = subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(site.config), "subscribers"],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    return {line.split()[0] for line in listed.splitlines() if "@" in line}


@pytest.mark.parametrize("leave", ["one-click", "button"])
def test_subscribe_confirm_welcome_manage_and_leave(
    site: WebSite, chromium: Any, screenshots: Path, leave: str
) -> None:
    """The whole journey, leaving one way or the other (see the module docstring)."""
    address = f"{leave}@example.org"
    chromium.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
    )
    chromium.get(f"{site.url}/trials/{NCT}")
    assert heading(chromium).startswith("A Clinical Study")
    chromium.find_element(by("ID"), "sub-address").send_keys(address)
    chromium.find_element(by("CSS_SELECTOR"), "input[name=delivery][value=weekly]").click()
    if leave == "one-click":
        chromium.find_element(by("ID"), "sub-near").send_keys("Boston, MA")
        accessible(chromium)
        form = chromium.find_element(by("CSS_SELECTOR"), "section.subscribe")
        form.screenshot(str(screenshots / "1-subscribe-form.png"))
    press(chromium, "section.subscribe button")
    assert heading(chromium) == "Check your email"
    assert "Open the link in it within 48 hours" in chromium.page_source
    accessible(chromium)
    if leave == "one-click":
        shoot(chromium, screenshots, "2-check-your-email")
    assert address not in subscribed(site)  # nothing yet: double opt-in

    confirmation = to(deliver(site), address, "Please confirm")
    assert "If this was not you, do nothing" in text(confirmation)
    found = re.search(rf"{re.escape(PUBLIC)}/confirm/\S+", text(confirmation))
    assert found, text(confirmation)
    chromium.get(local(site, found[0]))
    assert heading(chromium) == "Start your emails"
    assert address not in subscribed(site)  # opening the link is not confirming
    accessible(chromium)
    if leave == "one-click":
        shoot(chromium, screenshots, "3-confirm-button")
    press(chromium, "main form button")
    assert heading(chromium) == "You are subscribed"
    accessible(chromium)
    assert address in subscribed(site)

    welcome = to(deliver(site), address, "You now follow")
    assert "One email a week" in " ".join(text(welcome).split())
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    one_click = re.search(
        rf"<({re.escape(PUBLIC)}/unsubscribe/[^>]+)>", welcome["List-Unsubscribe"]
    )
    assert one_click, welcome["List-Unsubscribe"]

    chromium.get(
        chromium.find_element(by("LINK_TEXT"), "See and change your emails").get_attribute("href")
    )
    assert heading(chromium) == "Your emails"
    assert NCT in chromium.find_element(by("CSS_SELECTOR"), "main").text
    accessible(chromium)
    if leave == "one-click":
        shoot(chromium, screenshots, "4-manage")

    if leave == "one-click":  # as a mail provider does it: no cookie, no page, one POST
        answer = httpx.post(
            local(site, one_click[1]), data={"List-Unsubscribe": "One-Click"}, timeout=10
        )
        assert answer.status_code == 200
        chromium.refresh()
        assert heading(chromium) == "No emails to stop"
    else:
        link = chromium.find_element(by("LINK_TEXT"), "Stop all emails and remove my address")
        chromium.get(link.get_attribute("href"))
        assert heading(chromium) == "Stop all emails"
        accessible(chromium)
        press(chromium, "main form button")
        assert heading(chromium) == "You will get no more emails"
        accessible(chromium)
        shoot(chromium, screenshots, "5-unsubscribed")
    assert address not in subscribed(site)
    confirm_token = found[0].rsplit("/", 1)[1]
    leave_token = one_click[1].rsplit("/", 1)[1]
    assert "/confirm/" in site.log()  # the access log has these requests, without their tokens
    assert confirm_token not in site.log() and leave_token not in site.log()


def test_a_new_and_a_known_address_get_the_same_page(site: WebSite) -> None:
    """The demo's patient is subscribed; a stranger is not; the answers are byte for byte
    alike (status and page), so the site tells nobody who follows what."""
    with httpx.Client(base_url=site.url, timeout=10) as browser:
        page = browser.get("/trials/NCT07310784").text
        token = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        assert token
        answers = [
            browser.post(
                "/trials/NCT07310784/subscribe", data={"csrf": token[1], "address": address}
            )
            for address in (PATIENT, "stranger@example.org")
        ]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].text == answers[1].text
    assert PATIENT in subscribed(site)


def test_a_form_with_problems_is_accessible(site: WebSite, chromium: Any) -> None:
    """The form sent back with its problems: each named on its field; axe finds nothing."""
    chromium.get(f"{site.url}/trials/{NCT}")
    chromium.find_element(by("ID"), "sub-address").send_keys("not an address")
    press(chromium, "section.subscribe button")
    assert heading(chromium) == "Please check the form"
    field = chromium.find_element(by("ID"), "sub-address")
    assert field.get_attribute("aria-invalid") == "true"
    assert "is not an email address" in chromium.find_element(by("ID"), "sub-address-problem").text
    accessible(chromium)
