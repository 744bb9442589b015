"""`trialwatch demo`: the real pipeline, offline, on recorded ClinicalTrials.gov records.

It starts the replay registry on 127.0.0.1 with the first recorded version of each demo trial,
points a fresh state directory's settings at it, and drives the same code a real deployment
runs (registry client, store, diff), then has the "registry" publish the later recorded
versions so the next check finds real changes. A made-up patient follows the featured trial;
their email lands in the state directory's Maildir and the feeds beside it. Nothing here is a
mock of trialwatch itself.
"""

from __future__ import annotations

import copy
import mailbox
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from watcher.config import Settings, load_settings
from watcher.core.gazetteer import resolve_near
from watcher.core.wording import summarize_line
from watcher.core.wording.cycle import cycle_text
from watcher.data.gazetteer import load_gazetteer
from watcher.registry.replay import ReplayRegistry, load_records
from watcher.registry.replay_server import ReplayServer
from watcher.service.check import CheckResult, check_now
from watcher.service.wiring import open_store

DEMO_DATA = Path(__file__).parents[1] / "demo_data"
FEATURED = "NCT07310784"
PATIENT = "patient@example.org"  # example.org: a domain reserved for examples (RFC 2606)
PATIENT_NEAR = "Beijing, China"

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


def demo_settings(state_dir: Path, base_url: str) -> Settings:
    """Settings for a throwaway state directory pointed at the local replay registry."""
    config = state_dir / "config.toml"
    config.write_text(
        f'[registry]\nbase_url = "{base_url}"\nrequests_per_minute = 0\n\n'
        f'[storage]\ndatabase = "{state_dir / "trialwatch.db"}"\n',
        encoding="utf-8",
    )
    return load_settings(config, env={"STATE_DIRECTORY": str(state_dir), "HOME": str(state_dir)})


def run_demo(echo: Echo, state_dir: Path | None = None) -> Path:
    """Walk through watch → first check → registry update → second check → the patient's email
    and the feeds; return the state directory."""
    state_dir = state_dir or Path(tempfile.mkdtemp(prefix="trialwatch-demo-"))
    versions = demo_versions()
    registry = ReplayRegistry({nct: v[0] for nct, v in versions.items()})
    with ReplayServer(registry) as server:
        settings = demo_settings(state_dir, server.base_url)
        echo("trialwatch demo: the real pipeline, offline, on recorded ClinicalTrials.gov records")
        echo(f"Replay registry: {server.base_url}  (serving {len(versions)} recorded trials)")
        echo(f"State directory: {state_dir}\n")

        clock = datetime.now(UTC)
        with open_store(settings) as store:

            def cycle(at: datetime) -> CheckResult:
                return check_now(store, settings, at, env={})

            store.add_watches(sorted(versions), clock)
            echo(f"1. Watching {', '.join(sorted(versions))}.")
            near = resolve_near(PATIENT_NEAR, None, load_gazetteer)
            person = store.subscribe(PATIENT, [FEATURED], clock, near=near)
            echo(f"   {PATIENT} follows {FEATURED} as a patient near {PATIENT_NEAR}.")

            echo("2. First check: the first version of each trial is stored.")
            echo(f"{cycle_text(cycle(clock).report)}\n")

            later = [v[-1] for v in versions.values() if len(v) > 1]
            registry.publish(*later)
            echo(f"3. The registry publishes a data release with {len(later)} updated records.")
            clock += timedelta(hours=1)
            second = cycle(clock)
            echo("4. Second check: what changed, old → new.")
            echo(f"{cycle_text(second.report)}\n")

            clock += timedelta(hours=1)
            third = cycle(clock).report
            echo(
                f"5. Third check, no new data release: {third.requests} request to the "
                f"registry, {third.count('unchanged')} trials unchanged.\n"
            )
            echo(f"History of {FEATURED} (trialwatch history {FEATURED}):")
            changes = store.changes(FEATURED)
            for row in store.versions(FEATURED):
                found = [c.change for c in changes if c.to_version == row.version]
                note = "first version" if row.version == 1 else summarize_line(found)
                echo(f"  v{row.version}  registry update {row.last_update_posted}  {note}")

    feeds = settings.feeds.dir
    sent = second.delivery.sent if second.delivery else 0
    echo(
        f"\n6. {sent} email went to the local Maildir {settings.mail.maildir}"
        " (no SMTP server is configured).\n"
        f"   Feeds: {feeds / 'trials' / (FEATURED + '.atom')} (and .rss), {feeds / 'all.atom'};\n"
        f"   {PATIENT}'s private feed: {feeds / 'private'}/<their feed token>.atom\n"
    )
    for text in maildir_texts(settings.mail.maildir):
        echo("-" * 76)
        echo(text.rstrip())
        echo("-" * 76)
    config = state_dir / "config.toml"
    echo(
        f"\nEverything the demo stored is in {state_dir}; look around with\n"
        f"  trialwatch --config {config} history {FEATURED}\n"
        f"  trialwatch --config {config} summary {FEATURED}\n"
        f"and unsubscribe {PATIENT} as the email's link would:\n"
        f"  trialwatch --config {config} unsubscribe --token {person.unsubscribe_token}"
    )
    return state_dir


def maildir_texts(path: Path) -> list[str]:
    """Each email in the Maildir as its reader sees it: the headers that matter, then the text."""
    texts = []
    box = mailbox.Maildir(path, create=False)
    for key in sorted(box.keys()):
        message = BytesParser(policy=policy.default).parsebytes(box.get_bytes(key))
        assert isinstance(message, EmailMessage)
        body = message.get_body(("plain",))
        content = body.get_content() if body is not None else ""
        heads = "\n".join(f"{h}: {message[h]}" for h in ("From", "To", "Subject") if message[h])
        texts.append(f"{heads}\n\n{content}")
    return texts
