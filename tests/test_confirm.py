"""Subscribing from the web with double opt-in, below the web layer: a real SQLite store, the
real outbox drained into the Maildir, emails read back as a mail program reads them.

Nothing is a subscription until its link is opened; the link works once and for 48 hours; an
address that already follows the trial is sent a note instead, and the caller cannot tell the
two apart; the per-address limit sends nothing more, silently; every problem of the form is
named by its field."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import Trialwatch, demo_versions, write_config
from test_subscriptions import html_of, mails, text_of

from watcher.config import Settings, load_settings
from watcher.registry.replay import ReplayRegistry
from watcher.registry.replay_server import ReplayServer
from watcher.service.confirmations import (
    FormProblems,
    check_form,
    confirm,
    request_subscription,
)
from watcher.service.manage import account, change
from watcher.store.database import Store

NCT = "NCT07227597"  # demo: not yet recruiting → recruiting
SITE = "https://watch.example.org"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state directory whose database shows one watched trial with a stored version, made
    once through the real CLI and replay registry (each test gets a copy: `site`)."""
    root = tmp_path_factory.mktemp("seeded")
    with ReplayServer(ReplayRegistry()) as replay:
        replay.registry.publish(demo_versions(NCT)[0])
        made = Trialwatch(root / "state", write_config(root / "config.toml", replay.base_url))
        made("watch", "add", NCT)
        made("check")
    return made.state_dir


@pytest.fixture
def site(seeded: Path, tmp_path: Path) -> Trialwatch:
    """A copy of the seeded state; its registry is gone, and nothing here needs it."""
    shutil.copytree(seeded, tmp_path / "state")
    config = write_config(tmp_path / "config.toml", "http://127.0.0.1:9")
    return Trialwatch(tmp_path / "state", config)


def settings_of(trialwatch: Trialwatch, **web: int) -> Settings:
    extra = "".join(f"\n{key} = {value}" for key, value in web.items())
    if extra:
        with trialwatch.config.open("a", encoding="utf-8") as file:
            file.write(f"[web]{extra}\n")
    return load_settings(trialwatch.config, {"STATE_DIRECTORY": str(trialwatch.state_dir)})


def open_store(trialwatch: Trialwatch) -> Store:
    return Store(trialwatch.state_dir / "trialwatch.db")


def ask(
    trialwatch: Trialwatch, address: str = "pat@example.org", now: datetime = T0, **form: str
) -> str:
    settings = settings_of(trialwatch)
    with open_store(trialwatch) as store:
        checked = check_form(store, address, [form.pop("nct_id", NCT)], **form)
        return request_subscription(store, settings, checked, now, site_url=SITE)


def delivered(trialwatch: Trialwatch) -> list[EmailMessage]:
    trialwatch("deliver")
    return mails(trialwatch)


def link_in(message: EmailMessage, path: str) -> str:
    found = re.search(rf"{re.escape(SITE)}/{path}/(\S+)", text_of(message))
    assert found is not None, text_of(message)
    return found[1]


def subscribers(trialwatch: Trialwatch) -> list[object]:
    return list(trialwatch.json("subscribers"))


def test_a_request_subscribes_nobody_and_sends_one_email_with_its_link(
    site: Trialwatch,
) -> None:
    """The confirmation email says what was asked for, carries the link, says what to do if
    it was not you; the subscriber list stays empty."""
    assert ask(site, delivery="weekly") == "confirm"
    assert subscribers(site) == []
    (message,) = delivered(site)
    assert message["To"] == "pat@example.org"
    assert message["Subject"] == f"Please confirm: emails about {NCT}"
    assert message["List-Unsubscribe"] is None  # not a list: nothing to leave yet
    text = text_of(message)
    assert "One email a week" in text
    assert "If this was not you, do nothing" in text and "ends in 48 hours" in text
    token = link_in(message, "confirm")
    assert len(token) >= 40
    assert f'href="{SITE}/confirm/{token}"' in html_of(message)
    with open_store(site) as store:  # the token is kept only as its hash
        stored = store.db.execute("SELECT token_hash, email FROM confirmations").fetchall()
    assert token not in repr(stored)


def test_the_link_subscribes_once_with_the_options_asked_for_and_welcomes(
    site: Trialwatch,
) -> None:
    """Confirming subscribes (welcome email and all) with the digest and place of the form;
    the same link again, a second time, says so and sends nothing more."""
    ask(site, delivery="daily", near="Boston, MA", within="50km")
    token = link_in(delivered(site)[0], "confirm")
    settings = settings_of(site)
    with open_store(site) as store:
        done = confirm(store, settings, token, T0 + timedelta(hours=1))
        again = confirm(store, settings, token, T0 + timedelta(hours=2))
    assert done.outcome == "confirmed" and done.manage_token
    assert again.outcome == "used"
    (person,) = site.json("subscribers")
    (sub,) = person["subscriptions"]
    assert (person["email"], sub["nct_id"], sub["delivery"]) == ("pat@example.org", NCT, "daily")
    assert sub["near"].startswith("Boston") and sub["within"] == "50 km"
    subjects = [m["Subject"] for m in delivered(site)]
    assert [s for s in subjects if s.startswith("You now follow")] == [
        f"You now follow {NCT} — {site.json('watch', 'list')[0]['title']}"
    ]


def test_an_expired_or_unknown_link_subscribes_nobody(site: Trialwatch) -> None:
    """After 48 hours the link is an outcome to show, not a subscription; a made-up one too."""
    ask(site)
    token = link_in(delivered(site)[0], "confirm")
    settings = settings_of(site)
    with open_store(site) as store:
        assert confirm(store, settings, token, T0 + timedelta(hours=48)).outcome == "expired"
        assert confirm(store, settings, "x" * 43, T0).outcome == "unknown"
    assert subscribers(site) == []


def test_a_known_address_gets_a_note_and_the_caller_cannot_tell(site: Trialwatch) -> None:
    """An address that already follows the trial is sent a note with its manage link (no new
    confirmation); `request_subscription` returns without raising either way, and the page is
    the web layer's one page for all (tested there)."""
    site("subscribe", "Pat@Example.org", NCT)
    assert ask(site, "pat@example.org") == "known"
    subjects = sorted(str(m["Subject"]).split(" — ")[0] for m in delivered(site))
    assert subjects == [f"You already follow {NCT}", f"You now follow {NCT}"]
    (note,) = [m for m in mails(site) if m["Subject"].startswith("You already")]
    assert "nothing has changed" in text_of(note)
    token = link_in(note, "manage")
    with open_store(site) as store:
        found = account(store, token)
    assert found is not None and [f.subscription.nct_id for f in found.follows] == [NCT]


def test_the_per_address_limit_sends_nothing_more_for_a_day(site: Trialwatch) -> None:
    """With `confirmations_per_day = 2`, a third request the same day (any capitals) queues
    nothing; the next day one goes again."""
    settings_of(site, confirmations_per_day=2)
    outcomes = [
        ask(site, "pat@example.org"),
        ask(site, "PAT@example.org", T0 + timedelta(hours=1)),
        ask(site, "pat@example.org", T0 + timedelta(hours=2)),
    ]
    assert outcomes == ["confirm", "confirm", "limited"]
    assert len(delivered(site)) == 2
    assert ask(site, "pat@example.org", T0 + timedelta(days=1, hours=1)) == "confirm"


def test_every_problem_of_the_form_is_named_by_its_field(site: Trialwatch) -> None:
    """A bad address, an NCT ID not shown here and an unknown place: all three at once, each
    on its field, in the form's words; nothing is stored."""
    with open_store(site) as store, pytest.raises(FormProblems) as caught:
        check_form(store, "not-an-address", ["NCT00000001"], near="Bostn, Nowhere")
    problems = caught.value.problems
    assert set(problems) == {"address", "nct_id", "near"}
    assert "not an email address" in problems["address"]
    assert problems["nct_id"] == "NCT00000001 is not followed on this site"
    assert problems["near"].startswith("place 'Bostn, Nowhere'")
    with open_store(site) as store, pytest.raises(FormProblems) as caught:
        check_form(store, "pat@example.org", [NCT], within="50km")
    assert set(caught.value.problems) == {"within"}
    with open_store(site) as store:
        assert store.db.execute("SELECT COUNT(*) FROM confirmations").fetchone()[0] == 0


def test_a_subscriber_changes_how_often_they_hear_on_their_page(site: Trialwatch) -> None:
    """`change` keeps what is not given (the place) and changes the digest, then a distance
    alone measures from the place they had; a trial they do not follow is refused by field."""
    site("subscribe", "pat@example.org", NCT, "--near", "Boston, MA")
    with open_store(site) as store:
        person = store.subscriber(email="pat@example.org")
        assert person is not None
        change(store, person, NCT, T0, delivery="weekly")
        with pytest.raises(FormProblems) as caught:
            change(store, person, "NCT06911827", T0, delivery="weekly")
    assert set(caught.value.problems) == {"nct_id"}
    (person_json,) = site.json("subscribers")
    (sub,) = person_json["subscriptions"]
    assert (sub["delivery"], sub["near"].startswith("Boston")) == ("weekly", True)
    with open_store(site) as store:
        change(store, person, NCT, T0, delivery="weekly", within="50km")
    (person_json,) = site.json("subscribers")
    (sub,) = person_json["subscriptions"]
    assert (sub["near"].startswith("Boston"), sub["within"]) == (True, "50 km")


def test_old_requests_are_forgotten_with_their_addresses(site: Trialwatch, tmp_path: Path) -> None:
    """A request used or expired and older than the limit's day is deleted by the next
    request, so an address never confirmed does not stay in the table."""
    ask(site, "old@example.org")
    ask(site, "new@example.org", T0 + timedelta(days=3))
    with open_store(site) as store:
        left = [r[0] for r in store.db.execute("SELECT email FROM confirmations")]
    assert left == ["new@example.org"]
