"""The coordinator digest on real recorded change sets: the table of followed trials, exact
old → new lines with a label for every field, and every change in the attached changes.csv.

The digests are built by the real planner (`digest_email`) and laid out by the real templates,
then read back as a mail program would (`email.parser`); the change sets are every pair of
consecutive recorded versions in `tests/fixtures/ctgov`.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from functools import cache
from pathlib import Path

import pytest
from conftest import consecutive_versions, version_chains
from test_golden import check_golden

from watcher.core.change import StoredChange
from watcher.core.diff import diff_trials
from watcher.core.notify import Letterhead, TrialOverview, digest_email, trial_overview
from watcher.core.record import Trial, parse_trial
from watcher.core.subscriptions import Subscriber, Subscription
from watcher.core.wording import format_changes
from watcher.data import load_glossary
from watcher.delivery.templates import render

NOW = datetime(2026, 3, 16, 7, 0, tzinfo=UTC)
PERSON = Subscriber(7, "coord@example.org", "tok-unsub", "tok-feed")
HEAD = Letterhead("trialwatch <alerts@example.org>", "https://trials.example.org")
SITES_REMOVED = "NCT04736173"  # 2026-02-03 → 2026-03-10: 43 sites dropped, none with a status
ARM_EDIT = "NCT05280470"  # an arm's long description rewritten in one clause
# Words that mean a field path or raw JSON reached the reader.
RAW = re.compile(r"protocolSection|\w+Module\b|\w+Struct\b|\{\"|\[\{|\"\w+\":")
NONE_TO_NONE = re.compile(r"\(?\bnone\)? → \(?none\b", re.IGNORECASE)


def _trial(path: Path) -> Trial:
    return parse_trial(json.loads(path.read_text(encoding="utf-8")))


@cache
def _stored(nct_id: str | None = None) -> tuple[StoredChange, ...]:
    """The changes between consecutive recorded versions (of one trial, or of all), as stored."""
    stored: list[StoredChange] = []
    for old, new in consecutive_versions():
        if nct_id and not old.name.startswith(nct_id):
            continue
        found = new.name.split("__")[2] if new.name.count("__") >= 3 else "2026-03-15"
        for change in diff_trials(_trial(old), _trial(new)):
            stored.append(
                StoredChange(len(stored) + 1, new.name[:11], 1, 2, f"{found}T06:00:00Z", change)
            )
    return tuple(stored)


def _overview(nct_id: str) -> TrialOverview:
    newest = version_chains()[nct_id][-1]
    last = [s.detected_at for s in _stored(nct_id)]
    return trial_overview(nct_id, _trial(newest), None, max(last) if last else None)


def _digest(
    stored: Sequence[StoredChange],
    followed: Sequence[TrialOverview],
    audience: str = "coordinator",
) -> EmailMessage:
    subscriptions = {
        nct: Subscription(n, PERSON.id, nct, audience, "daily")
        for n, nct in enumerate(sorted({s.nct_id for s in stored}), start=1)
    }
    message = digest_email(
        PERSON,
        [(subscriptions[s.nct_id], s) for s in stored],
        delivery="daily",
        followed=followed,
        glossary=load_glossary(),
        letterhead=HEAD,
        render=render,
        now=NOW,
    )
    assert message is not None
    parsed = BytesParser(policy=policy.default).parsebytes(message.body)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")


def _csv_rows(message: EmailMessage) -> list[dict[str, str]]:
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_filename() == "changes.csv"
    data = attachment.get_payload(decode=True)
    assert isinstance(data, bytes)
    return list(csv.DictReader(data.decode("utf-8-sig").splitlines()))


def test_the_43_sites_removed_digest_counts_them_and_lists_each_in_the_csv() -> None:
    """NCT04736173 dropped 43 sites that had no recruiting status: the digest says so in one
    count line, never "none → none", and changes.csv has one row for each of the 43."""
    message = _digest(_stored(SITES_REMOVED), [_overview(SITES_REMOVED)])
    text, html = _parts(message)
    assert "Sites removed (43)" in text
    assert "- No status given → not listed: 43" in text
    assert "No status given → not listed: 43" in html
    rows = _csv_rows(message)
    removed = [row for row in rows if row["kind"] == "site_removed"]
    assert len(removed) == 43
    assert len({row["site"] for row in removed}) == 43
    assert {(row["old"], row["new"]) for row in removed} == {("no status given", "not listed")}
    assert {row["field"] for row in removed} == {"Site recruiting status"}
    assert {row["date"] for row in rows} == {"2026-03-10"}
    assert list(rows[0]) == ["trial", "kind", "field", "old", "new", "site", "date"]
    for output in (text, html, "\n".join(",".join(row.values()) for row in rows)):
        assert not NONE_TO_NONE.search(output)


@pytest.mark.slow
def test_no_digest_or_diff_line_over_all_recorded_chains_shows_a_field_path_or_json() -> None:
    """Every change of every recorded chain, in one coordinator digest and in `trialwatch
    diff`'s lines: no field path, no registry key, no JSON, no "none → none"."""
    stored = _stored()
    followed = [_overview(nct) for nct in sorted({s.nct_id for s in stored})]
    message = _digest(stored, followed)
    text, html = _parts(message)
    diff = "\n".join(format_changes([s.change]) for s in stored)
    rows = _csv_rows(message)
    cells = "\n".join(f"{row['field']}: {row['old']} → {row['new']}" for row in rows)
    # The registry's own keys (camelCase) in every changed field and value: none may show.
    keys = {part for s in stored for part in s.change.field.split(".")}
    keys |= {k for s in stored for v in (s.change.old, s.change.new) for k in _keys(v)}
    camel = {k for k in keys if re.fullmatch(r"[a-z]+[A-Z]\w*", k)}
    assert {"dispFirstPostDateStruct", "armGroupLabels", "timeFrame"} <= camel
    for name, output in (("text", text), ("html", html), ("diff", diff), ("csv", cells)):
        assert not RAW.search(output), (name, RAW.search(output))
        assert not NONE_TO_NONE.search(output), (name, NONE_TO_NONE.search(output))
        shown = sorted(k for k in camel if re.search(rf"\b{k}\b", output))
        assert shown == [], (name, shown)
    assert len(rows) == len(stored)


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_the_overview_table_lists_every_trial_the_subscriber_follows() -> None:
    """The table at the top has a row for each followed trial, changed today or not, with its
    status and recruiting sites now and the day of its last change; a trial not yet checked
    says so."""
    followed = [_overview(SITES_REMOVED), _overview(ARM_EDIT), _overview("NCT06203210")]
    followed.append(trial_overview("NCT09999999", None, "A trial not yet checked", None))
    text, html = _parts(_digest(_stored(SITES_REMOVED), followed))
    table = text.split("Your trials\n", 1)[1].split("\n\n", 1)[0]
    rows = table.splitlines()[1 : 1 + len(followed)]
    assert [row.split()[0] for row in rows] == [t.nct_id for t in followed]
    newest = _trial(version_chains()[SITES_REMOVED][-1])
    recruiting = sum(1 for site in newest.sites if site.status == "RECRUITING")
    assert newest.overall_status == "ACTIVE_NOT_RECRUITING"
    assert rows[0].split()[-2:] == [str(recruiting), "2026-03-10"]
    assert "Active not recruiting" in rows[0]
    assert "not checked yet" in rows[3] and "none yet" in rows[3]
    assert html.count('<th scope="row"') == len(followed)
    assert '<th scope="col"' in html and "<caption" in html
    assert text.index("Your trials") < text.index("Sites removed")


def test_a_long_text_change_is_a_word_diff() -> None:
    """An arm's rewritten description shows only its changed words, marked in both parts."""
    text, html = _parts(_digest(_stored(ARM_EDIT), [_overview(ARM_EDIT)]))
    assert "[-In Part 2, all participants will-]" in " ".join(text.split())
    assert re.search(r"<del [^>]*>In Part 2, all participants will</del>", html)
    assert re.search(r"<ins [^>]*>This arm will consist of", html)
    assert "(description)" not in text
    assert "Certification or extension first posted: (none) → 2026-02-20 (actual)" in text
    assert not RAW.search(text) and not RAW.search(html)


def test_a_digest_is_the_same_bytes_each_time_it_is_built() -> None:
    """A digest queued again after a crash is the same message, attachment and boundaries too."""
    stored, followed = _stored(SITES_REMOVED), [_overview(SITES_REMOVED)]
    first, second = _digest(stored, followed), _digest(stored, followed)
    assert first.as_bytes() == second.as_bytes()
    assert first.get_content_type() == "multipart/mixed"


def test_a_patients_digest_has_no_table_and_no_attachment() -> None:
    """The table and the spreadsheet are for coordinators; a patient's digest has neither."""
    message = _digest(_stored(SITES_REMOVED), [_overview(SITES_REMOVED)], audience="patient")
    text, _ = _parts(message)
    assert "Your trials" not in text
    assert list(message.iter_attachments()) == []


def test_the_coordinator_digest_matches_its_reviewed_golden_files() -> None:
    """The 43-sites digest (text, HTML, CSV) reads as the reviewed golden files."""
    followed = [_overview(SITES_REMOVED), _overview(ARM_EDIT)]
    stored = _stored(SITES_REMOVED) + tuple(
        StoredChange(100 + s.id, s.nct_id, 1, 2, s.detected_at, s.change) for s in _stored(ARM_EDIT)
    )
    message = _digest(stored, followed)
    text, html = _parts(message)
    check_golden("digest.coordinator.txt", text)
    check_golden("digest.coordinator.html", html)
    (attachment,) = list(message.iter_attachments())
    data = attachment.get_payload(decode=True)
    assert isinstance(data, bytes)
    check_golden("digest.coordinator.changes.csv", data.decode("utf-8-sig").replace("\r\n", "\n"))
