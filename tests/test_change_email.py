"""The immediate change email as its reader gets it: short, one title, one glossary, one link.

Built the way the poll builds it (`plan_notices` with the real templates and glossary) from the
recorded versions, and read back with the `email` package, as a mail program would.
"""

from __future__ import annotations

import json
import re
import statistics
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from conftest import consecutive_versions, demo_versions

from watcher.core.diff import diff_trials
from watcher.core.notify import NEAREST_SITES, Letterhead, plan_notices
from watcher.core.record import Trial, parse_trial
from watcher.core.subscriptions import Subscriber, Subscription
from watcher.data import load_glossary
from watcher.data.gazetteer import load_gazetteer
from watcher.delivery.templates import render

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
PERSON = Subscriber(7, "pat@example.org", "unsub-token-123", "feed-token-456")
PLAIN = Letterhead("trialwatch <alerts@trials.example.org>")
WEB = Letterhead("trialwatch <alerts@trials.example.org>", "https://trials.example.org")
STARTED = "NCT07227597"  # opens, adds 2 sites, and edits two exclusion rules


def emails(
    old: Trial, new: Trial, *subscriptions: Subscription, letterhead: Letterhead = PLAIN
) -> list[tuple[str, str]]:
    """(text, HTML) of each immediate email the new version sends."""
    notices = plan_notices(
        new.nct_id or "",
        2,
        new,
        diff_trials(old, new),
        [(PERSON, s) for s in subscriptions],
        (),
        glossary=load_glossary(),
        letterhead=letterhead,
        render=render,
        now=NOW,
    )
    out = []
    for outgoing in notices.messages:
        message = BytesParser(policy=policy.default).parsebytes(outgoing.body)
        assert isinstance(message, EmailMessage)
        text, html = (message.get_body((kind,)) for kind in ("plain", "html"))
        assert text is not None and html is not None
        out.append((text.get_content().replace("\r\n", "\n"), html.get_content()))
    return out


def started() -> tuple[Trial, Trial]:
    old, new = (parse_trial(version) for version in demo_versions(STARTED))
    return old, new


def links(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)"', html)


def test_a_patient_change_email_names_the_trial_once_and_explains_only_what_changed() -> None:
    """The title comes once (under the short heading), one "What these words mean" explains
    the words of the change, and the full criteria are left to the trial's page."""
    old, new = started()
    ((text, html),) = emails(old, new, Subscription(1, PERSON.id, STARTED))
    title = new.brief_title or ""
    assert text.startswith(f"{STARTED} is now recruiting\n")
    assert " ".join(text.split()).count(title) == 1
    assert html.count(title) == 2  # the <title> of the page, then once in the body
    assert text.count("What these words mean") == 1 and html.count("What these words mean") == 1
    assert "randomization: The process" in " ".join(text.split())  # the changed word explained
    assert "Who can join" not in text and "Who cannot join" not in text
    order = ["What changed", "What these words mean", "Key facts", "Where the study runs"]
    assert [text.index(f"{heading}\n") for heading in order] == sorted(
        text.index(f"{heading}\n") for heading in order
    )


def test_the_html_part_says_what_the_text_part_says_in_the_same_order() -> None:
    """Each heading and key fact of the text part is in the HTML part, in the same order."""
    old, new = started()
    ((text, html),) = emails(old, new, Subscription(1, PERSON.id, STARTED))
    flat = " ".join(re.sub(r"<[^>]+>", " ", html).replace("&#39;", "'").split())
    said = [
        "What changed",
        "This study has started looking for people to join.",
        "What these words mean",
        "Key facts",
        "You must be at least 18 years old.",
        "Where the study runs",
        "See the whole study on ClinicalTrials.gov",
        "Only the study team can tell you if you qualify.",
    ]
    for words in said:
        assert words in " ".join(text.split()), words
    assert [flat.index(words) for words in said] == sorted(flat.index(w) for w in said)


def test_a_change_email_has_one_link_to_the_trial_and_one_way_out() -> None:
    """With a web base a patient's one trial link is its plain-English page there; a
    coordinator's is the official record on ClinicalTrials.gov. The other link unsubscribes."""
    old, new = started()
    patient, coordinator = (
        Subscription(1, PERSON.id, STARTED),
        Subscription(2, PERSON.id, STARTED, audience="coordinator"),
    )
    (p_text, p_html), (c_text, c_html) = emails(old, new, patient, coordinator, letterhead=WEB)
    unsubscribe = "https://trials.example.org/unsubscribe/unsub-token-123"
    assert links(p_html) == [f"https://trials.example.org/trials/{STARTED}", unsubscribe]
    assert "Read the whole study in plain English:" in p_text
    assert links(c_html) == [f"https://clinicaltrials.gov/study/{STARTED}", unsubscribe]
    assert f"ClinicalTrials.gov:\nhttps://clinicaltrials.gov/study/{STARTED}" in c_text
    assert "clinicaltrials.gov/study" not in p_text


def test_a_coordinator_change_email_keeps_the_exact_values_and_no_patient_parts() -> None:
    """The coordinator reads the official values old → new, in the same layout, without the
    patient's key facts, sites or closing advice."""
    old, new = started()
    ((text, html),) = emails(old, new, Subscription(2, PERSON.id, STARTED, audience="coordinator"))
    assert "NOT_YET_RECRUITING → RECRUITING" in text
    assert "allocation{+/randomization+} (or first dose)" in text
    for patient_part in ("Key facts", "Where the study runs", "Talk with your doctor"):
        assert patient_part not in text and patient_part not in html
    assert "max-width: 600px" in html


def test_a_patient_near_a_place_gets_at_most_three_sites_nearest_first() -> None:
    """NCT06203210 reopened with ~450 sites: an Ohio patient's email lists 3, those in Ohio
    first, and counts the rest."""
    pair = next(p for p in consecutive_versions() if p[0].name.startswith("NCT06203210"))
    old, new = (parse_trial(json.loads(p.read_text(encoding="utf-8"))) for p in pair)
    ohio = load_gazetteer().resolve("Ohio, USA")  # a US state: all of it is near
    ((text, _),) = emails(old, new, Subscription(1, PERSON.id, "NCT06203210", near=ohio))
    listed = text.split(f"Sites nearest to {ohio}\n", 1)[1].split("\n\n", 1)[0]
    sites = [" ".join(item.split()) for item in listed.split("\n- ")[1:]]  # after the "==="
    assert len(sites) == NEAREST_SITES + 1  # three sites, then "and N more farther away"
    in_ohio = ["Ohio, United States" in site and "(in your area)" in site for site in sites]
    assert in_ohio[0] and in_ohio[:NEAREST_SITES] == sorted(in_ohio[:NEAREST_SITES], reverse=True)
    assert re.fullmatch(r"and \d+ more farther away", sites[-1])


@pytest.mark.slow
def test_patient_change_emails_on_the_recorded_trials_are_short() -> None:
    """Over every recorded version pair a patient's change email is ≤ 250 words at the median
    and never over 600 (issue 14; `python bench/messages.py` prints every kind)."""
    words = []
    for old_path, new_path in consecutive_versions():
        old, new = (
            parse_trial(json.loads(p.read_text(encoding="utf-8"))) for p in (old_path, new_path)
        )
        for text, _ in emails(old, new, Subscription(1, PERSON.id, new.nct_id or "")):
            words.append(len(text.split()))
    print(
        f"\n{len(words)} patient change emails: median {statistics.median(words)} words, "
        f"max {max(words)}"
    )
    assert len(words) > 30
    assert statistics.median(words) <= 250
    assert max(words) <= 600
