"""Every kind of email, opened in a real headless Chromium, checked for what a reader notices.

Each HTML part is built the way the poll builds it, written to a file and opened in the system's
Chromium through Selenium and the system's chromedriver (`.ci/run` installs both from apt). At a
phone's width (375 px) a reader must not scroll sideways; every piece of text must stand out from
what is behind it (WCAG AA: a contrast of 4.5:1, from the computed colours, over an opaque
background the email sets itself, so a dark mode cannot put its own background behind our
text); every link must have words, be underlined, and no highlight may be; there must be real
headings; on a wide screen the message stays 600 px wide.

Screenshots (phone and desktop width, each also as Chromium's automatic dark mode paints it)
are saved to a temporary folder, never committed; run with
`-s` to see their paths. Skipped, with the reason, only when no browser or driver is found.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from conftest import consecutive_versions, load_fixture

from watcher.core.change import StoredChange
from watcher.core.diff import diff_trials
from watcher.core.distance import Radius
from watcher.core.message import Outgoing
from watcher.core.notify import (
    Letterhead,
    TrialOverview,
    digest_email,
    moved_notices,
    plan_notices,
    welcome_email,
)
from watcher.core.record import Trial, parse_trial
from watcher.core.search import new_search
from watcher.core.search_notice import match_section, matches_email
from watcher.core.subscriptions import Subscriber, Subscription
from watcher.data import load_glossary
from watcher.data.gazetteer import load_gazetteer
from watcher.delivery.templates import render

pytestmark = pytest.mark.slow

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
PERSON = Subscriber(7, "pat@example.org", "unsub-token-123", "feed-token-456")
LETTERHEAD = Letterhead("trialwatch <alerts@trials.example.org>", "https://trials.example.org")
PHONE, DESKTOP = 375, 1024
MIN_CONTRAST = 4.5


def html_part(outgoing: Outgoing) -> str:
    message = BytesParser(policy=policy.default).parsebytes(outgoing.body)
    assert isinstance(message, EmailMessage)
    part = message.get_body(("html",))
    assert part is not None
    content: str = part.get_content()
    return content


def _pair(nct_id: str) -> tuple[Trial, Trial]:
    """The first two recorded versions of a trial."""
    paths = next(p for p in consecutive_versions() if p[0].name.startswith(nct_id))
    old, new = (parse_trial(json.loads(p.read_text(encoding="utf-8"))) for p in paths)
    return old, new


def change_email(audience: str, near: str | None = None) -> str:
    """NCT07227597 opening, two sites added, two exclusion rules edited (one by one word)."""
    old, new = _pair("NCT07227597")
    place = load_gazetteer().resolve(near) if near else None
    subscription = Subscription(1, PERSON.id, "NCT07227597", audience=audience, near=place)
    notices = plan_notices(
        "NCT07227597",
        2,
        new,
        diff_trials(old, new),
        [(PERSON, subscription)],
        (),
        glossary=load_glossary(),
        letterhead=LETTERHEAD,
        render=render,
        now=NOW,
    )
    (outgoing,) = notices.messages
    return html_part(outgoing)


def digest() -> str:
    """A coordinator's daily digest of the NCT06203210 reopening (~450 site changes) and of
    NCT07227597."""
    subscription = Subscription(3, PERSON.id, "", audience="coordinator", delivery="daily")
    items, followed = [], []
    for nct_id in ("NCT06203210", "NCT07227597"):
        old, new = _pair(nct_id)
        recruiting = sum(site.status == "RECRUITING" for site in new.sites)
        followed.append(
            TrialOverview(nct_id, new.brief_title or nct_id, "Recruiting", recruiting, "2026-03-10")
        )
        items += [
            (subscription, StoredChange(len(items) + i, nct_id, 1, 2, NOW.isoformat(), c))
            for i, c in enumerate(diff_trials(old, new))
        ]
    outgoing = digest_email(
        PERSON,
        items,
        delivery="daily",
        followed=followed,
        glossary=load_glossary(),
        letterhead=LETTERHEAD,
        render=render,
        now=NOW,
    )
    assert outgoing is not None
    return html_part(outgoing)


def moved() -> str:
    """A patient's "your trial is now listed as …" email."""
    _, new = _pair("NCT07227597")
    (outgoing,) = moved_notices(
        "NCT01234567",
        new,
        [(PERSON, Subscription(1, PERSON.id, "NCT01234567"))],
        glossary=load_glossary(),
        letterhead=LETTERHEAD,
        render=render,
        now=NOW,
    )
    return html_part(outgoing)


def welcome() -> str:
    """The first email of a patient's subscription to NCT07310784: the whole trial."""
    record = load_fixture("NCT07310784__reconstructed-from-public-page.json")
    beijing = load_gazetteer().resolve("Beijing, China")
    subscription = Subscription(1, PERSON.id, "NCT07310784", near=beijing)
    outgoing = welcome_email(
        PERSON,
        subscription,
        parse_trial(record),
        feed_url="https://trials.example.org/feeds/private/feed-token-456.atom",
        glossary=load_glossary(),
        letterhead=LETTERHEAD,
        render=render,
        now=NOW,
    )
    return html_part(outgoing)


def search_matches() -> str:
    """A saved search's two new matches, with their sites nearest Boston."""
    boston = load_gazetteer().resolve("Boston, MA", Radius(50, "mi"))
    search = new_search("melanoma-boston", condition="melanoma", near=boston)
    sections = [
        match_section(
            parse_trial(load_fixture(name)), search, glossary=load_glossary(), letterhead=LETTERHEAD
        )
        for name in (
            "NCT02475213__partrita-tigit__HEAD-2026-03-15.json",
            "NCT05581004__partrita-tigit__2026-02-18__40019a2c.json",
        )
    ]
    outgoing = matches_email(
        PERSON,
        search,
        "2026-03-16T09:00:00",
        sections,
        letterhead=LETTERHEAD,
        render=render,
        now=NOW,
    )
    return html_part(outgoing)


# Every kind of HTML email.
KINDS: dict[str, Callable[[], str]] = {
    "search-matches": search_matches,
    "welcome": welcome,
    "patient-change": lambda: change_email("patient", "Haifa, Israel"),
    "coordinator-change": lambda: change_email("coordinator"),
    "coordinator-digest": digest,
    "moved-trial": moved,
}

# Reads the page as a reader sees it. Colours are computed by the browser; a text's background
# is the first opaque one among its ancestors (none found: the text sits on whatever the mail
# program puts behind it, which fails).
MEASURE = """
const rgb = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
const luminance = ([r, g, b]) => {
  const lin = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
};
const contrast = (a, b) => {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
};
const backgroundOf = (el) => {
  for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
    const c = rgb(getComputedStyle(node).backgroundColor);
    if (c.length === 4 ? c[3] === 1 : c.length === 3) return c.slice(0, 3);
  }
  return null;
};
const texts = [];
for (const el of document.body.querySelectorAll('*')) {
  const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!own) continue;
  const bg = backgroundOf(el);
  const fg = rgb(getComputedStyle(el).color).slice(0, 3);
  texts.push({tag: el.tagName.toLowerCase(), text: el.textContent.trim().slice(0, 60),
              contrast: bg ? contrast(fg, bg) : 0, opaque: bg !== null});
}
const decoration = (el) => getComputedStyle(el).textDecorationLine;
const scroller = document.scrollingElement;
const h1 = document.querySelector('h1');
return {
  scrollWidth: scroller.scrollWidth, clientWidth: scroller.clientWidth,
  texts: texts,
  links: [...document.querySelectorAll('a')].map((a) => ({
    text: (a.textContent || a.getAttribute('aria-label') || '').trim(),
    href: a.getAttribute('href'), underlined: decoration(a).includes('underline')})),
  highlights: [...document.querySelectorAll('ins, del')].map((el) => ({
    text: el.textContent, underlined: decoration(el).includes('underline')})),
  headings: [...document.querySelectorAll('h1, h2, h3')].map((h) => h.tagName),
  lists: document.querySelectorAll('ul li, ol li').length,
  columnWidth: h1 && h1.closest('table') ? h1.closest('table').getBoundingClientRect().width : null,
  height: Math.ceil(document.documentElement.scrollHeight),
};
"""


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mail-screenshots")
    print(f"\nscreenshots of the emails go to {folder}")
    return folder


def look(driver: Any, page: Path, width: int, screenshot: Path) -> dict[str, Any]:
    """Open `page` at `width` CSS pixels, measure it, and save a full-length screenshot."""
    metrics = {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    driver.get(page.as_uri())
    measured: dict[str, Any] = driver.execute_script(MEASURE)
    metrics["height"] = measured["height"]
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    screenshot.write_bytes(driver.get_screenshot_as_png())
    # As a mail program's dark mode paints it (Chromium's own automatic dark theme), to look at.
    driver.execute_cdp_cmd("Emulation.setAutoDarkModeOverride", {"enabled": True})
    dark = screenshot.with_name(f"{screenshot.stem}-dark.png")
    dark.write_bytes(driver.get_screenshot_as_png())
    driver.execute_cdp_cmd("Emulation.setAutoDarkModeOverride", {})
    print(f"  {screenshot}\n  {dark}")
    return measured


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_email_reads_well_in_a_real_browser(
    kind: str, chromium: Any, screenshots: Path, tmp_path: Path
) -> None:
    """At 375 px nothing scrolls sideways, every text has 4.5:1 contrast over a background the
    email sets, links have words and are underlined while highlights are not; at 1024 px the
    message is one column of at most 600 px, with real headings."""
    page = tmp_path / f"{kind}.html"
    page.write_text(KINDS[kind](), encoding="utf-8")

    phone = look(chromium, page, PHONE, screenshots / f"{kind}-{PHONE}px.png")
    assert phone["scrollWidth"] <= phone["clientWidth"], "scrolls sideways on a phone"
    faint = [t for t in phone["texts"] if t["contrast"] < MIN_CONTRAST]
    assert not faint, f"text under {MIN_CONTRAST}:1 or on no background of its own: {faint}"
    assert phone["texts"], "no text measured"
    assert phone["links"] and all(link["text"] for link in phone["links"]), phone["links"]
    assert all(link["underlined"] for link in phone["links"]), phone["links"]
    assert not [h for h in phone["highlights"] if h["underlined"]], phone["highlights"]
    assert phone["headings"][0] == "H1" and "H2" in phone["headings"]
    assert phone["lists"] > 0

    desktop = look(chromium, page, DESKTOP, screenshots / f"{kind}-{DESKTOP}px.png")
    assert desktop["columnWidth"] is not None and desktop["columnWidth"] <= 600
