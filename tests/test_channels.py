"""Chat channels through Apprise: real receivers on 127.0.0.1 (its json:// and form:// schemes),
a real SMTP server (mailto://), the real CLI, a real SQLite outbox.

What a coordinator would notice: each channel hears each change once, in the words every other
output uses; a channel that is down is retried on its own and named in `status`, and never
holds up another channel or the email; a token never shows in any output.
"""

from __future__ import annotations

import copy
import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs

import pytest
import sqlite_utils
from conftest import (
    FIXTURE_DIRS,
    MailSink,
    Trialwatch,
    demo_versions,
    free_port,
    serving,
    write_config,
)

from watcher.config import load_settings
from watcher.core.diff import diff_trials
from watcher.core.notify import Letterhead, plan_notices
from watcher.core.record import parse_trial
from watcher.core.search import new_search
from watcher.data import load_glossary
from watcher.delivery.chat import AppriseTransport
from watcher.delivery.outbox import deliver_due, retry_at
from watcher.delivery.templates import render
from watcher.errors import DeliveryDeferred
from watcher.registry.replay import load_records, with_nct_id
from watcher.registry.replay_server import ReplayServer
from watcher.service.channels import list_channels
from watcher.service.wiring import channels_following
from watcher.store.database import Store
from watcher.store.migrations import migrations

STARTED = "NCT07227597"  # its two demo versions: not yet recruiting → recruiting, + 2 sites
SECRET = "hunter2-s3cret-pw"  # the failing channel's password, in its URL file only
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


class Receiver(BaseHTTPRequestHandler):
    """Keeps every POST Apprise makes; a path with "fail" in it answers 500."""

    posts: ClassVar[list[tuple[str, dict[str, str], bytes]]] = []
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            self.posts.append((self.path, dict(self.headers), body))
        self.send_response(500 if "fail" in self.path else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def receiver() -> Iterator[str]:
    """A chat service stand-in on 127.0.0.1; yields "127.0.0.1:PORT"."""
    Receiver.posts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def posts_to(path: str) -> list[bytes]:
    return [body for where, _, body in Receiver.posts if where.startswith(path)]


# -- settings ------------------------------------------------------------------------------------


def check_config(tmp_path: Path, body: str, expect: int, env: dict[str, str] | None = None) -> str:
    config = tmp_path / "config.toml"
    config.write_text(body, encoding="utf-8")
    trialwatch = Trialwatch(tmp_path / "state", config)
    if env:
        trialwatch.runner.env = env  # CliRunner merges these into every invocation's environment
    result = trialwatch("check-config", expect=expect)
    return result.stdout + result.stderr


def test_a_bad_apprise_url_is_one_line_naming_the_channel(tmp_path: Path) -> None:
    """An unknown scheme, a misspelt kind and a token in the settings file: one line each,
    `[[channels]] NAME key`, exit 78; the token itself is not repeated."""
    out = check_config(
        tmp_path,
        '[[channels]]\nname = "office"\nurl = "slakc://T1/B2/C3"\n'
        '[[channels]]\nname = "ops"\nurl = "json://bob:topsecretpw@chat.example.org/hook"\n'
        'kinds = ["statuss"]\n',
        expect=78,
    )
    lines = out.strip().splitlines()
    assert lines[0] == "Error: 3 problems in the configuration:"
    assert "[[channels]] office url: Apprise cannot use a slakc:// URL" in lines[1]
    assert "[[channels]] ops url: holds a secret" in out and "url_file" in out
    assert '[[channels]] ops kinds: "statuss" is not a choice here; did you mean "status"?' in out
    assert "topsecretpw" not in out and "Traceback" not in out


def test_two_channels_of_one_name_or_url_and_url_file_are_refused(tmp_path: Path) -> None:
    """Names are how `channel test`, `status` and the outbox tell channels apart."""
    out = check_config(
        tmp_path,
        '[[channels]]\nname = "office"\nurl = "json://127.0.0.1:9/a"\n'
        '[[channels]]\nname = "office"\nurl = "json://127.0.0.1:9/b"\nurl_file = "/x"\n',
        expect=78,
    )
    assert "[[channels]] office name: two channels have this name; rename one" in out
    assert "[[channels]] office url_file: set url (a URL without a secret) or url_file" in out


def test_the_url_file_is_read_and_never_shown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """check-config reads the URL file (a missing one is exit 78, one line) and prints its path,
    never what is in it; systemd's credential works the same way."""
    url_file = tmp_path / "office.url"
    body = f'[[channels]]\nname = "office"\nurl_file = "{url_file}"\n'
    missing = check_config(tmp_path, body, expect=78)
    assert missing.count("\n") == 1 and "cannot read the Apprise URL of channel office" in missing
    url_file.write_text(f"json://bob:{SECRET}@127.0.0.1:9/hook\n", encoding="utf-8")
    url_file.chmod(0o600)
    shown = check_config(tmp_path, body, expect=0)
    assert f'url_file = "{url_file}"' in shown and SECRET not in shown
    url_file.write_text("json:/oops\n", encoding="utf-8")
    bad = check_config(tmp_path, body, expect=78)
    assert "the URL named by [[channels]] office url_file: not an Apprise URL" in bad
    # Apprise itself logs "An invalid Slack (first) Token (<the token>) was specified": it
    # reaches neither trialwatch's log nor its output.
    url_file.write_text(f"slack://{SECRET}/B2\n", encoding="utf-8")
    caplog.set_level(logging.DEBUG)
    bad = check_config(tmp_path, body, expect=78)
    assert "Apprise cannot use a slack:// URL written this way (Could not load Slack" in bad
    assert SECRET not in bad + caplog.text
    # No url, no url_file: $CREDENTIALS_DIRECTORY/channel-NAME, as [smtp] reads smtp-password.
    creds = tmp_path / "creds"
    creds.mkdir()
    body = '[[channels]]\nname = "office"\n'
    assert "[[channels]] office url: not set" in check_config(tmp_path, body, expect=78)
    (creds / "channel-office").write_text(f"json://bob:{SECRET}@127.0.0.1:9/h", encoding="utf-8")
    env = {"CREDENTIALS_DIRECTORY": str(creds)}
    assert SECRET not in check_config(tmp_path, body, expect=0, env=env)


# -- the outbox table ----------------------------------------------------------------------------


def test_the_migration_keeps_every_outbox_row_and_claim_and_allows_apprise(
    tmp_path: Path,
) -> None:
    """m012 rebuilds the outbox for its new channel: rows, claims and the index survive."""
    path = tmp_path / "t.db"
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before="m012_channel_outbox")
    db.execute(
        """INSERT INTO outbox (key, channel, recipient, subject, body, status, attempts,
           next_attempt_at, last_error, created_at, claimed_by, lease_until)
           VALUES ('k1', 'email', 'a@example.org', 's', x'00ff', 'pending', 2,
           '2026-01-01T00:00:00', '421 busy', '2026-01-01', '123-abc', '2026-01-01T00:05:00')"""
    )
    db.conn.commit()
    columns = ", ".join(db["outbox"].columns_dict)  # as m012 left them (later ones add more)
    before = db.execute(f"SELECT {columns} FROM outbox").fetchall()  # noqa: S608
    db.close()
    with Store(path) as store:
        assert store.db.execute(f"SELECT {columns} FROM outbox").fetchall() == before  # noqa: S608
        indexes = {r[1] for r in store.db.execute("PRAGMA index_list(outbox)").fetchall()}
        assert "outbox_due" in indexes
        store.db.execute(
            "INSERT INTO outbox (key, channel, recipient, subject, body, next_attempt_at, "
            "created_at) VALUES ('k2', 'apprise', 'office', 's', x'7b7d', 'x', 'x')"
        )
        with pytest.raises(sqlite3.IntegrityError):
            store.db.execute(
                "INSERT INTO outbox (key, channel, recipient, subject, body, next_attempt_at, "
                "created_at) VALUES ('k3', 'pigeon', 'office', 's', x'7b7d', 'x', 'x')"
            )


# -- the words (pure planning) -------------------------------------------------------------------


class Target:
    def __init__(self, name: str, audience: str, kinds: tuple[str, ...] = ()) -> None:
        self.name, self.audience, self.kinds = name, audience, kinds


def planned(*channels: Target) -> dict[str, dict[str, str]]:
    old, new = (parse_trial(v) for v in demo_versions(STARTED))
    notices = plan_notices(
        STARTED,
        2,
        new,
        diff_trials(old, new),
        [],
        (),
        glossary=load_glossary(),
        letterhead=Letterhead("trialwatch <alerts@example.org>"),
        render=render,
        now=NOW,
        channels=channels,
    )
    assert all(m.channel == "apprise" for m in notices.messages)
    return {m.recipient: json.loads(m.body) for m in notices.messages}


def test_a_coordinator_channel_reads_exact_lines_a_patient_channel_plain_words() -> None:
    """The same words as each audience's email: old → new for coordinators, plain for patients;
    a channel limited to kinds the version does not touch hears nothing."""
    said = planned(
        Target("office", "coordinator"),
        Target("patients", "patient"),
        Target("results", "coordinator", ("results_posted",)),
    )
    assert set(said) == {"office", "patients"}
    office, patients = said["office"], said["patients"]
    assert office["title"] == patients["title"]
    assert office["title"].startswith(f"{STARTED} is now recruiting")
    assert "NOT_YET_RECRUITING → RECRUITING" in office["body"]
    assert f"https://clinicaltrials.gov/study/{STARTED}" in office["body"]
    assert "This study has started looking for people to join." in patients["body"]
    assert "NOT_YET_RECRUITING" not in patients["body"]


# -- sending -------------------------------------------------------------------------------------


def test_a_channel_nobody_listens_on_is_deferred_and_not_tried_twice_in_a_drain(
    tmp_path: Path,
) -> None:
    """Connection refused is a retry, with Apprise's reason; the next message of that channel
    in the same drain waits without costing another connection attempt."""
    config = tmp_path / "c.toml"
    port = free_port()
    config.write_text(
        f'[[channels]]\nname = "down"\nurl = "json://127.0.0.1:{port}/x"\n', encoding="utf-8"
    )
    settings = load_settings(config, {"STATE_DIRECTORY": str(tmp_path)})
    (listed,) = list_channels(settings, {})  # before any database: not created by listing
    assert listed.health.state == "no messages yet" and not settings.storage.database.exists()
    transport = AppriseTransport(settings.channels, {})
    body = json.dumps({"title": "t", "body": "b"}).encode()
    with pytest.raises(DeliveryDeferred, match="channel down: A Connection error occurred"):
        transport.send("k1", "down", body)
    with pytest.raises(DeliveryDeferred, match="not tried again this drain"):
        transport.send("k2", "down", body)


@pytest.fixture
def office(
    tmp_path: Path, replay: ReplayServer, receiver: str
) -> Iterator[tuple[Trialwatch, MailSink]]:
    """The CLI with SMTP on aiosmtpd and three channels: `board` (form:// with a password in
    its URL file, answers 500; first, so its rows come first), `office` (json://, answers 200)
    and `inbox` (mailto:// to the same SMTP server), watching STARTED's first version with one
    email subscriber."""
    sink = MailSink()
    with serving(sink) as port:
        url_file = tmp_path / "board.url"
        url_file.write_text(f"form://bob:{SECRET}@{receiver}/fail-board\n", encoding="utf-8")
        url_file.chmod(0o600)
        mailto = f"mailto://127.0.0.1:{port}/?from=tw@example.org&to=coord@example.org"
        extra = f"""
[smtp]
host = "127.0.0.1"
port = {port}
security = "none"

[[channels]]
name = "board"
url_file = "{url_file}"
audience = "patient"

[[channels]]
name = "office"
url = "json://{receiver}/office"

[[channels]]
name = "inbox"
url = "{mailto}&mode=insecure"
trials = ["{STARTED}"]
"""
        config = write_config(tmp_path / "config.toml", replay.base_url, extra)
        trialwatch = Trialwatch(tmp_path / "state", config)
        old, _ = demo_versions(STARTED)
        replay.registry.publish(old)
        trialwatch("watch", "add", STARTED)
        trialwatch("check")
        trialwatch("subscribe", "pat@example.org", STARTED)
        yield trialwatch, sink


def test_one_failing_channel_blocks_neither_the_others_nor_the_email(
    office: tuple[Trialwatch, MailSink],
    replay: ReplayServer,
    receiver: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`board` answers 500: `office`, `inbox` and the subscriber's email arrive once each, the
    board's message is retried (and goes once the board answers), and `status` names the board
    with its attempts and error, the password in its URL nowhere."""
    trialwatch, sink = office
    _, new = demo_versions(STARTED)
    replay.registry.publish(new)
    caplog.set_level(logging.DEBUG)
    result = trialwatch.json("check")
    # The board's failure, first in the outbox, held up nobody in the same drain.
    assert (result["delivery"]["sent"], result["delivery"]["deferred"]) == (4, 1)  # + welcome
    assert len(posts_to("/office")) == 1 and len(sink.messages) == 3
    trialwatch("check")  # nothing new: nothing sent twice, and the board is not due yet
    trialwatch("deliver")

    (office_post,) = posts_to("/office")
    message = json.loads(office_post)
    assert message["title"].startswith(f"{STARTED} is now recruiting")
    assert "NOT_YET_RECRUITING → RECRUITING" in message["message"]
    subjects = [str(m["Subject"]) for m in sink.messages]
    assert sum(s.startswith(f"{STARTED} is now recruiting") for s in subjects) == 2  # pat, inbox
    (board_try,) = posts_to("/fail-board")
    assert (
        "This study has started looking for people to join."
        in parse_qs(board_try.decode())["message"][0]
    )
    assert any("channel board" in e and "500" in e for e in result["delivery"]["errors"])

    status = trialwatch.json("status")
    channels = {c["name"]: c for c in status["channels"]}
    assert channels["office"]["state"] == "ok" and channels["inbox"]["state"] == "ok"
    board = channels["board"]
    assert (board["state"], board["pending"], board["attempts"]) == ("failing", 1, 1)
    assert "500" in board["last_error"]
    text = trialwatch("status").stdout
    assert "board failing" in text
    assert "board: 1 waiting (1 attempt so far), 0 failed; last error: Failed to send" in text

    with Store(trialwatch.state_dir / "trialwatch.db") as store:  # as kept, before any redaction
        (kept,) = store.db.execute(
            "SELECT last_error FROM outbox WHERE status = 'pending'"
        ).fetchone()
    assert "error=500" in kept and SECRET not in kept

    # The board comes back: its message goes at its retry time, once; nobody else hears again.
    Receiver.posts.clear()
    settings = load_settings(trialwatch.config, {"STATE_DIRECTORY": str(trialwatch.state_dir)})
    url_file = settings.channels[0].url_file
    assert url_file is not None
    url_file.write_text(f"form://bob:{SECRET}@{receiver}/board-back\n", encoding="utf-8")
    with Store(trialwatch.state_dir / "trialwatch.db") as store:
        later = retry_at(1, datetime.now(UTC)) + timedelta(seconds=1)
        assert deliver_due(store, settings, later, {}).sent == 1
    assert len(posts_to("/board-back")) == 1 and posts_to("/office") == []
    assert "board ok" in trialwatch("status").stdout

    everything = (
        json.dumps(result)
        + json.dumps(status)
        + text
        + trialwatch("channel", "list").stdout
        + trialwatch("check-config").stdout
        + caplog.text
    )
    assert SECRET not in everything


def test_channel_list_and_test(
    office: tuple[Trialwatch, MailSink], receiver: str, replay: ReplayServer
) -> None:
    """`channel list` shows each channel's scope, audience and health with its URL masked;
    `channel test` sends now: ok, or one error line (exit 1) without the password."""
    trialwatch, _ = office
    listed = {c["name"]: c for c in trialwatch.json("channel", "list")}
    assert list(listed) == ["board", "office", "inbox"]
    assert listed["board"]["audience"] == "patient" and listed["office"]["kinds"] == []
    assert listed["inbox"]["trials"] == [STARTED]
    assert listed["board"]["url"].startswith("form://bob:****@")
    assert listed["office"]["health"]["state"] == "no messages yet"
    text = trialwatch("channel", "list").stdout
    assert "board  form://bob:****@" in text and "audience: patient; kinds: all" in text
    assert SECRET not in text

    assert trialwatch("channel", "test", "office").stdout.startswith("ok: channel office")
    (posted,) = posts_to("/office")
    assert json.loads(posted)["title"] == "trialwatch test message"
    failed = trialwatch("channel", "test", "board", expect=1)
    assert failed.stderr.startswith("Error: channel board: Failed to send Form POST")
    assert failed.stderr.count("\n") == 1 and SECRET not in failed.stderr
    answer = trialwatch.json("channel", "test", "board", expect=1)
    assert answer["ok"] is False and "error=500" in answer["error"]
    assert SECRET not in answer["error"]
    unknown = trialwatch("channel", "test", "nope", expect=2)
    assert unknown.stderr == (
        "Error: no channel 'nope' in [[channels]]; the channels are: board, office, inbox\n"
    )


def test_a_channel_for_other_trials_hears_nothing(
    office: tuple[Trialwatch, MailSink], replay: ReplayServer, tmp_path: Path
) -> None:
    """`trials` limits a channel: one naming another trial gets no message for this one."""
    trialwatch, _ = office
    config = trialwatch.config.read_text(encoding="utf-8")
    trialwatch.config.write_text(
        config.replace(f'trials = ["{STARTED}"]', 'trials = ["NCT00000001"]'), encoding="utf-8"
    )
    _, new = demo_versions(STARTED)
    replay.registry.publish(new)
    trialwatch("check")
    with Store(trialwatch.state_dir / "trialwatch.db") as store:
        recipients = [
            r[0]
            for r in store.db.execute(
                "SELECT recipient FROM outbox WHERE channel = 'apprise'"
            ).fetchall()
        ]
    assert sorted(recipients) == ["board", "office"]  # not inbox


def test_trials_and_searches_choose_what_a_channel_hears(tmp_path: Path) -> None:
    """A channel naming neither hears every trial; one naming trials hears those; one naming a
    saved search hears the trials that search matched (and an unknown search matches none)."""
    config = tmp_path / "c.toml"
    config.write_text(
        """
[[channels]]
name = "all"
url = "json://127.0.0.1:9/a"
[[channels]]
name = "two"
url = "json://127.0.0.1:9/b"
trials = ["nct00000002"]
[[channels]]
name = "melanoma"
url = "json://127.0.0.1:9/c"
searches = ["melanoma boston", "gone"]
""",
        encoding="utf-8",
    )
    settings = load_settings(config, {"STATE_DIRECTORY": str(tmp_path)})
    with Store(tmp_path / "t.db") as store:
        search = store.add_search(new_search("melanoma boston", condition="melanoma"), NOW)
        store.save_search_run(search, "2026-11-20", NOW, new=["NCT00000003"], baseline=True)
        following = channels_following(store, settings)
        heard = {n: [c.name for c in following(n)] for n in ("NCT00000001", "NCT00000002")}
        heard["NCT00000003"] = [c.name for c in following("NCT00000003")]
    assert heard == {
        "NCT00000001": ["all"],
        "NCT00000002": ["all", "two"],
        "NCT00000003": ["all", "melanoma"],
    }


def test_a_channel_naming_a_search_hears_of_its_new_matches(
    tmp_path: Path, replay: ReplayServer, receiver: str
) -> None:
    """A release brings a new melanoma trial with a Boston site: the channel naming the search
    gets one message in the match email's words (no footer); a channel naming no search does
    not (it follows watched trials), and `check` counts emails only."""
    extra = f"""
[[channels]]
name = "melanoma"
url = "json://{receiver}/melanoma"
searches = ["melanoma-boston"]

[[channels]]
name = "everything"
url = "json://{receiver}/everything"
"""
    trialwatch = Trialwatch(
        tmp_path / "state", write_config(tmp_path / "config.toml", replay.base_url, extra)
    )
    boston = load_records(FIXTURE_DIRS[0])["NCT02475213"][-1]
    replay.registry.publish(boston, release=False)
    trialwatch(
        "search", "add", "melanoma-boston", "--condition", "melanoma",
        "--near", "Boston, MA", "--within", "50mi",
    )  # fmt: skip
    trialwatch("check")  # the baseline: nobody told
    new = copy.deepcopy(with_nct_id(boston, "NCT09000001"))
    new["protocolSection"]["statusModule"]["studyFirstPostDateStruct"]["date"] = "2026-03-16"
    replay.registry.publish(new)
    said = trialwatch("check").stdout
    trialwatch("check")  # the same release: nothing again
    assert "Search melanoma-boston: 1 new trial(s), 0 email(s) queued." in said
    (posted,) = posts_to("/melanoma")
    message = json.loads(posted)
    assert message["title"].startswith("A new trial for your search “melanoma-boston”: NCT09000001")
    assert "A new trial matches your search" in message["message"]
    assert "Sites nearest to Boston" in message["message"] and "--" not in message["message"]
    assert posts_to("/everything") == []
