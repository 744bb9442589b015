"""Following a saved search in a real browser against a real `trialwatch serve`.

A person finds the demo's saved search from the home page, reads what it looks for and the
trials it has found (a stored one with its key facts and its site nearest the search's place,
with the distance), subscribes with their address, opens the confirmation link from the Maildir
and presses its button, gets the search's welcome email (whose List-Unsubscribe is the search's
own link), opens their page, sees the search beside the trial they follow, and ends the search
alone. axe-core finds no serious or critical problem on any page of it. Screenshots (PNG) of the
search page and the manage page go to a temporary folder (printed with `-s`), to be looked at,
not committed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_web_subscribe_browser import (
    PUBLIC,
    accessible,
    by,
    deliver,
    heading,
    local,
    press,
    shoot,
    text,
    to,
)
from web_server import WebSite, serve_config, start_web

from watcher.registry.replay import ReplayRegistry
from watcher.registry.replay_server import ReplayServer
from watcher.service.demo import NEW_MATCH_FROM, demo_versions, run_demo
from watcher.store.database import Store

pytestmark = pytest.mark.slow

ADDRESS = "searcher@example.org"
NAME = "solid-tumor-near-guangzhou"
TRIAL = "NCT07227597"  # a demo trial, followed too, so ending the search leaves the page


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebSite]:
    """The demo's state served with a public base URL, and a second saved search near
    Guangzhou, added now: its first run records the demo trials that match as its baseline."""
    state_dir = tmp_path_factory.mktemp("search-site")
    demo = run_demo(lambda _: None, state_dir)
    latest = {nct: versions[-1] for nct, versions in demo_versions().items()}
    with ReplayServer(ReplayRegistry(latest)) as replay:
        serve_config(demo.config, replay.base_url, f'base_url = "{PUBLIC}"\n')
        trialwatch(
            demo.config,
            state_dir,
            "search",
            "add",
            NAME,
            "--condition",
            "solid tumor",
            "--near",
            "Guangzhou, China",
            "--within",
            "100km",
        )
        trialwatch(demo.config, state_dir, "check")  # its first run: the trials that match now
        with start_web(demo.config, state_dir) as server:
            yield WebSite(server.url, state_dir, demo.config, demo, replay, server)


def trialwatch(config: Path, state_dir: Path, *args: str) -> None:
    env = {**os.environ, "STATE_DIRECTORY": str(state_dir), "HOME": str(state_dir)}
    subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(config), *args],
        check=True,
        env=env,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("search-screenshots")
    print(f"\nscreenshots of the search journey go to {folder}")
    return folder


def follows_search(site: WebSite) -> bool:
    with Store(site.state_dir / "trialwatch.db") as store:
        search = store.search(NAME)
        assert search is not None
        return ADDRESS in [p.email for p in store.search_subscribers(search.id)]


def test_find_a_search_subscribe_confirm_manage_and_end_it(
    site: WebSite, chromium: Any, screenshots: Path
) -> None:
    """The whole journey (see the module docstring)."""
    chromium.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
    )
    chromium.get(site.url)
    press(chromium, "main a[href='/searches']")
    assert heading(chromium) == "Searches for new trials"
    accessible(chromium)
    press(chromium, f"main a[href='/searches/{NAME}']")
    assert heading(chromium) == f"New trials for the search “{NAME}”"
    main = chromium.find_element(by("CSS_SELECTOR"), "main").text
    assert "A site within 100 km of Guangzhou" in main
    assert re.search(
        r"Nearest site: .+ \((\d+|less than 1) km away from Guangzhou, China\)", main
    ), main
    assert NEW_MATCH_FROM in main  # a demo trial, stored here: its key facts
    assert "when the search started" in main
    accessible(chromium)
    shoot(chromium, screenshots, "1-search-page")

    chromium.find_element(by("ID"), "sub-address").send_keys(ADDRESS)
    press(chromium, "section.subscribe button")
    assert heading(chromium) == "Check your email"
    accessible(chromium)
    assert not follows_search(site)  # nothing yet: double opt-in

    confirmation = to(deliver(site), ADDRESS, "Please confirm")
    assert "The search looks for condition “solid tumor”, within 100 km" in " ".join(
        text(confirmation).split()
    )
    found = re.search(rf"{re.escape(PUBLIC)}/confirm/\S+", text(confirmation))
    assert found, text(confirmation)
    chromium.get(local(site, found[0]))
    assert heading(chromium) == "Start your emails"
    assert NAME in chromium.find_element(by("CSS_SELECTOR"), "main").text
    accessible(chromium)
    assert not follows_search(site)
    press(chromium, "main form button")
    assert heading(chromium) == "You are subscribed"
    assert follows_search(site)

    welcome = to(deliver(site), ADDRESS, "You now follow the search")
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.search(
        rf"<{re.escape(PUBLIC)}/unsubscribe/[^/>]+/searches/\d+>", welcome["List-Unsubscribe"]
    ), welcome["List-Unsubscribe"]

    manage = chromium.find_element(by("LINK_TEXT"), "See and change your emails")
    manage_url = manage.get_attribute("href")
    _follow_trial_too(site)
    chromium.get(manage_url)
    assert heading(chromium) == "Your emails"
    main = chromium.find_element(by("CSS_SELECTOR"), "main").text
    assert f"Search: {NAME}" in main and TRIAL in main
    accessible(chromium)
    shoot(chromium, screenshots, "2-manage-page")

    press(chromium, "form[action$='/end-search'] button")
    assert heading(chromium) == "Your emails"
    main = chromium.find_element(by("CSS_SELECTOR"), "main").text
    assert f"No more emails about the search “{NAME}”" in main
    assert f"Search: {NAME}" not in main and TRIAL in main
    accessible(chromium)
    assert not follows_search(site)
    leave_token = re.search(r"/unsubscribe/([^/>]+)/", welcome["List-Unsubscribe"])
    assert leave_token and "/confirm/" in site.log()  # logged, without the tokens
    assert found[0].rsplit("/", 1)[1] not in site.log() and leave_token[1] not in site.log()


def _follow_trial_too(site: WebSite) -> None:
    """The same person follows a trial, as `trialwatch subscribe` would make them."""
    with Store(site.state_dir / "trialwatch.db") as store:
        from datetime import UTC, datetime

        store.subscribe(ADDRESS, [TRIAL], datetime.now(UTC))
