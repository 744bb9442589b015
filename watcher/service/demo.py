"""`trialwatch demo`: the real pipeline, offline, on recorded ClinicalTrials.gov records.

It starts the replay registry on 127.0.0.1 with the first recorded version of each demo trial,
points a fresh state directory's settings at it, and drives the same code a real deployment
runs (registry client, store, diff), then has the "registry" publish the later recorded
versions so the next check finds real changes. A made-up patient follows the featured trial;
their email lands in the state directory's Maildir and the feeds beside it. Nothing here is a
mock of trialwatch itself.

It prints a screenful (under 60 lines): each step, what changed as one line per trial, the
email's subject and first lines with the command that shows all of it, where the feeds are,
and the commands that look further. The made-up patient's address is never printed, as no
command prints a subscriber's address.
"""

from __future__ import annotations

import copy
import logging
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from textwrap import indent
from typing import Any

from watcher.config import Settings, load_settings
from watcher.core.addresses import redact_addresses
from watcher.core.cycle import CycleReport
from watcher.core.gazetteer import resolve_near
from watcher.core.search import new_search
from watcher.core.wording.cycle import cycle_summary
from watcher.data.gazetteer import load_gazetteer
from watcher.delivery.feed_files import private_feed_path
from watcher.delivery.outbox import deliver_due
from watcher.errors import WatcherError
from watcher.registry.replay import ReplayRegistry, load_records, with_nct_id
from watcher.registry.replay_server import ReplayServer
from watcher.service.check import CheckResult, check_now
from watcher.service.subscriptions import subscribe
from watcher.service.wiring import open_store

log = logging.getLogger(__name__)

DEMO_DATA = Path(__file__).parents[1] / "demo_data"
FEATURED = "NCT07310784"
PATIENT = "patient@example.org"  # example.org: a domain reserved for examples (RFC 2606)
PATIENT_NEAR = "Beijing, China"
PREVIEW_LINES = 8  # lines of the patient's email the demo shows; the path leads to the rest
# The patient's saved search, and the new trial a later release brings it (made up, as the
# featured trial's past is: a recorded trial posted anew under this ID on the release's day).
SEARCH = "solid-tumor-guangzhou"
SEARCH_NEAR = "Guangzhou, China"
NEW_MATCH, NEW_MATCH_FROM = "NCT07400001", "NCT06911827"

Echo = Callable[[str], None]


def earlier_featured(record: dict[str, Any]) -> dict[str, Any]:
    """A made-up earlier version of the featured trial: not yet recruiting, no site yet.

    Only one version of NCT07310784 was captured, so the demo invents the "before" by taking
    its status back to NOT_YET_RECRUITING and its one site away; the "after" is the record.
    """
    before = copy.deepcopy(record)
    protocol = before["protocolSection"]
    protocol["statusModule"]["overallStatus"] = "NOT_YET_RECRUITING"
    protocol["statusModule"]["lastUpdatePostDateStruct"] = {"date": "2026-03-02", "type": "ACTUAL"}
    protocol.pop("contactsLocationsModule", None)
    return before


def demo_versions() -> dict[str, list[dict[str, Any]]]:
    """Each demo trial's versions, oldest first (the featured trial with its invented past)."""
    versions = load_records(DEMO_DATA)
    featured = versions[FEATURED][-1]
    versions[FEATURED] = [earlier_featured(featured), featured]
    return versions


def new_match(versions: dict[str, list[dict[str, Any]]], day: str) -> dict[str, Any]:
    """The trial the demo's release adds: a recorded one, first posted on `day` under a new ID."""
    record = with_nct_id(copy.deepcopy(versions[NEW_MATCH_FROM][-1]), NEW_MATCH)
    record["protocolSection"]["statusModule"]["studyFirstPostDateStruct"] = {"date": day}
    return record


def demo_settings(state_dir: Path, base_url: str, web_url: str | None = None) -> Settings:
    """Settings for a throwaway state directory pointed at the local replay registry; with
    `web_url` (`demo --serve`), the emails' links point at the demo's own pages."""
    config = state_dir / "config.toml"
    web = f'\n[web]\nbase_url = "{web_url}"\n' if web_url else ""
    config.write_text(
        f'[registry]\nbase_url = "{base_url}"\nrequests_per_minute = 0\n\n'
        f'[storage]\ndatabase = "{state_dir / "trialwatch.db"}"\n{web}',
        encoding="utf-8",
    )
    return load_settings(config, env={"STATE_DIRECTORY": str(state_dir), "HOME": str(state_dir)})


@dataclass(frozen=True, slots=True)
class DemoRun:
    """Where the demo left everything, for `demo --json` and the tests."""

    state_dir: Path
    config: Path
    checks: tuple[CycleReport, ...]  # first, second, third
    emails: tuple[Path, ...]  # each message the Maildir holds, oldest first
    feeds: tuple[Path, ...]  # the featured trial's feed, all trials', the patient's private one
    unsubscribe_token: str
    settings: Settings  # the demo's, for `demo --serve` to serve its state

    def to_json(self) -> dict[str, Any]:
        """The `demo --json` shape: paths as strings, each check as `check --json` prints it."""
        return {
            "state_dir": str(self.state_dir),
            "config": str(self.config),
            "checks": [report.to_json() for report in self.checks],
            "emails": [str(path) for path in self.emails],
            "feeds": [str(path) for path in self.feeds],
        }


def run_demo(echo: Echo, state_dir: Path | None = None, *, web_url: str | None = None) -> DemoRun:
    """Walk through watch → first check → registry update → second check → the patient's email
    and the feeds, telling `echo` in a screenful (the patient's address never shown); with
    `web_url` (`demo --serve`, which starts the web front there next), where to read it."""
    state_dir = state_dir or Path(tempfile.mkdtemp(prefix="trialwatch-demo-"))
    config = state_dir / "config.toml"
    versions = demo_versions()
    registry = ReplayRegistry({nct: v[0] for nct, v in versions.items()})
    with ReplayServer(registry) as server:
        settings = demo_settings(state_dir, server.base_url, web_url)
        echo(f"trialwatch demo: the real pipeline, offline, on {len(versions)} recorded records")
        echo(f"Replay registry: {server.base_url}")
        echo(f"State directory: {state_dir}\n")

        clock = datetime.now(UTC)
        with open_store(settings) as store:

            def cycle(at: datetime) -> CheckResult:
                return check_now(store, settings, at, env={})

            store.add_watches(sorted(versions), clock)
            echo(f"1. Watching {', '.join(sorted(versions))};")
            near = resolve_near(PATIENT_NEAR, None, load_gazetteer)
            # as `trialwatch subscribe` does: the subscription and its welcome email, at once
            subscribe(store, settings, PATIENT, [FEATURED], clock, near=near)
            person = store.subscriber(email=PATIENT)
            assert person is not None  # subscribed just above
            echo(f"   a made-up patient follows {FEATURED}, near {PATIENT_NEAR},")
            place = resolve_near(SEARCH_NEAR, "100km", load_gazetteer)
            wanted = new_search(SEARCH, condition="solid tumor", status="recruiting", near=place)
            store.add_search(wanted, clock)
            store.subscribe_search(PATIENT, SEARCH, clock)
            echo(f"   and the search {SEARCH}: {wanted.describe()}.")

            first = cycle(clock).report
            echo("2. First check: the first version of each trial is stored.")
            echo(f"   {first_line(cycle_summary(first))}")

            later = [v[-1] for v in versions.values() if len(v) > 1]
            day = registry.release()[:10]
            registry.publish(*later, new_match(versions, day), release=False)
            echo(
                f"3. The registry publishes a data release with {len(later)} updated records "
                f"and a new trial, {NEW_MATCH}."
            )
            clock += timedelta(hours=1)
            second = cycle(clock)
            echo("4. Second check: what changed (old → new in full: `diff NCT…`, below).")
            echo(indent(cycle_summary(second.report), "   "))
            for found in second.searches:
                echo(f"   Search {found.name}: new match {', '.join(found.new)}, emailed once.")

            clock += timedelta(hours=1)
            third = cycle(clock).report
            echo(
                f"5. Third check, no new data release: {third.requests} request to the "
                f"registry, {third.count('unchanged')} trials unchanged."
            )

    emails = maildir_files(settings.mail.maildir)
    echo(
        f"6. {len(emails)} emails to the patient (the welcome, the change, the search's new "
        "match), in the local Maildir (no SMTP server is set up):"
    )
    for path in emails:
        echo(f"     {redact_addresses(email_subject(path))}")
    changed = [p for p in emails if email_subject(p).startswith(f"Subject: {FEATURED} ")]
    if changed:
        echo(indent(redact_addresses(email_preview(changed[-1])), "     | "))
        echo(f"   The whole email: less {changed[-1]}")
    feeds = (
        settings.feeds.dir / "trials" / f"{FEATURED}.atom",
        settings.feeds.dir / "all.atom",
        private_feed_path(settings, person.feed_token),
    )
    echo("7. Feeds (each with an .rss beside it), rewritten when a check finds a change:")
    echo(f"     {feeds[0]}  (one per trial)")
    echo(f"     {feeds[1]}  (all trials)")
    echo(f"     {feeds[2]}  (the patient's own)")
    look = f"trialwatch --config {config}"
    echo(
        "\nLook further:\n"
        f"  {look} history {FEATURED}\n"
        f"  {look} diff NCT07227597\n"
        f"  {look} summary {FEATURED}\n"
        f"  {look} unsubscribe --token {person.unsubscribe_token}"
        "   (as the email's link does)"
    )
    if web_url:
        echo(f"\nThe emails its pages send (a confirmation link…) land in {settings.mail.maildir}")
        echo(f"Read it on the web: {web_url}/trials/{FEATURED}   (Ctrl-C stops the web front)")
    return DemoRun(
        state_dir,
        config,
        (first, second.report, third),
        tuple(emails),
        feeds,
        person.unsubscribe_token,
        settings,
    )


def first_line(text: str) -> str:
    return text.split("\n", 1)[0]


def maildir_files(path: Path) -> list[Path]:
    """Each message file in the Maildir, the oldest delivered first."""
    found = [f for sub in ("new", "cur") if (path / sub).is_dir() for f in (path / sub).iterdir()]
    return sorted(found, key=lambda f: (f.stat().st_mtime_ns, f.name))


def _read_email(path: Path) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)  # policy.default builds EmailMessage
    return message


def email_subject(path: Path) -> str:
    """The Subject line of a message file, decoded."""
    return f"Subject: {_read_email(path)['Subject']}"


def email_preview(path: Path) -> str:
    """The first lines of a message's text part, as its reader sees them (blank lines and
    heading underlines left out): what the patient is told, at a glance."""
    body = _read_email(path).get_body(("plain",))
    text = body.get_content() if body is not None else ""
    lines = [ln for ln in text.splitlines() if ln.strip() and set(ln.strip()) - set("=-")]
    return "\n".join(lines[:PREVIEW_LINES] + (["…"] if len(lines) > PREVIEW_LINES else []))


CARRY_EVERY_S = 1.0


def carry_mail(settings: Settings, stop: threading.Event) -> None:
    """`demo --serve`'s stand-in for the daemon's delivery job, which the demo does not run:
    what the web front queues (a confirmation link, a welcome) reaches the demo's Maildir within
    a second, so a newcomer can subscribe and confirm on the demo's pages alone."""
    while not stop.wait(CARRY_EVERY_S):
        try:
            with open_store(settings) as store:
                deliver_due(store, settings, datetime.now(UTC), {})
        except (WatcherError, OSError) as exc:  # the next round tries again
            log.warning("demo: queued mail not delivered: %s", exc)
