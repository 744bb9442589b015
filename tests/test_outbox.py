"""Delivery through the outbox: a real SMTP server, a real Maildir, a real webhook receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import GatedSink, MailSink, free_port, serving

from watcher.config import Settings, load_settings
from watcher.core.message import Outgoing, build_email, unsubscribe_targets, wire_bytes
from watcher.delivery.outbox import LEASE, DeliveryReport, deliver_due, retry_at
from watcher.delivery.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from watcher.store.database import Store
from watcher.store.outbox import Outcome

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
SENDER = "trialwatch <alerts@example.org>"


def email(
    key: str, to: str = "pat@example.org", subject: str = "NCT07310784 is now recruiting"
) -> Outgoing:
    msg = build_email(
        sender=SENDER,
        to=to,
        subject=subject,
        text="This study has started looking for participants.\n",
        html="<p>This study has started looking for participants.</p>\n",
        key=key,
        date=T0,
        unsubscribe=unsubscribe_targets("tok-" + key, None, SENDER),
    )
    return Outgoing(key, "email", to, subject, wire_bytes(msg))


def settings_for(tmp_path: Path, body: str) -> Settings:
    config = tmp_path / "config.toml"
    config.write_text(f'[mail]\nfrom = "{SENDER}"\n{body}', encoding="utf-8")
    return load_settings(config, env={"STATE_DIRECTORY": str(tmp_path / "state")})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "state" / "t.db") as opened:
        yield opened


def smtp(tmp_path: Path, port: int) -> Settings:
    return settings_for(tmp_path, f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n')


def test_a_queued_email_arrives_once_with_its_headers(
    store: Store, smtp_server: tuple[MailSink, int], tmp_path: Path
) -> None:
    """SMTP delivery sends the stored message; a second drain sends nothing again."""
    sink, port = smtp_server
    store.enqueue([email("NCT07310784/v2/s1")], T0)
    settings = smtp(tmp_path, port)
    assert deliver_due(store, settings, T0, {}).sent == 1
    assert deliver_due(store, settings, T0 + timedelta(hours=1), {}).sent == 0
    (msg,) = sink.messages
    assert msg["Subject"] == "NCT07310784 is now recruiting"
    assert (
        msg["List-Unsubscribe"]
        .strip()
        .startswith("<mailto:alerts@example.org?subject=unsubscribe%20tok-")
    )
    # A mailto: alone gets no one-click header: RFC 8058 wants an https URI for it (before the
    # reliability issue it was sent anyway).
    assert msg["List-Unsubscribe-Post"] is None
    assert msg["Message-ID"].endswith("@example.org>")
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert sink.envelopes == [("alerts@example.org", ["pat@example.org"])]
    assert store.outbox_summary()["sent"] == 1


def test_a_temporary_refusal_is_retried_and_arrives_once(
    store: Store, smtp_server: tuple[MailSink, int], tmp_path: Path
) -> None:
    """421 then 250: deferred with backoff, then delivered exactly once."""
    sink, port = smtp_server
    sink.answers = ["421 4.3.2 try again later"]
    store.enqueue([email("k1")], T0)
    settings = smtp(tmp_path, port)
    first = deliver_due(store, settings, T0, {})
    assert (first.sent, first.deferred) == (0, 1)
    assert deliver_due(store, settings, T0, {}).sent == 0  # not due yet: backoff
    assert deliver_due(store, settings, retry_at(1, T0), {}).sent == 1
    assert len(sink.messages) == 1


def test_a_permanent_refusal_fails_that_message_only(
    store: Store, smtp_server: tuple[MailSink, int], tmp_path: Path
) -> None:
    """550 marks the row failed with the server's answer; the other messages still go."""
    sink, port = smtp_server
    sink.answers = ["550 5.1.1 no such user"]
    store.enqueue([email("bad", to="nobody@example.org"), email("good")], T0)
    report = deliver_due(store, smtp(tmp_path, port), T0, {})
    assert (report.sent, report.failed) == (1, 1)
    summary = store.outbox_summary()
    assert summary["failed"] == 1 and "550 5.1.1 no such user" in summary["failures"][0]["error"]
    assert len(sink.messages) == 1


def test_smtp_down_loses_nothing(store: Store, tmp_path: Path) -> None:
    """With the server unreachable every message waits; when it is back each arrives once."""
    port = free_port()
    settings = smtp(tmp_path, port)
    store.enqueue([email("a"), email("b")], T0)
    down = deliver_due(store, settings, T0, {})
    assert (down.sent, down.deferred) == (0, 2)
    from aiosmtpd.controller import Controller

    sink = MailSink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        later = T0 + timedelta(hours=7)
        assert deliver_due(store, settings, later, {}).sent == 2
        assert deliver_due(store, settings, later, {}).sent == 0
    finally:
        controller.stop()
    assert sorted(m["Message-ID"] for m in sink.messages) == sorted(
        {m["Message-ID"] for m in sink.messages}
    )


def test_without_smtp_mail_lands_in_the_maildir_once(store: Store, tmp_path: Path) -> None:
    """The default transport writes a private Maildir file, once, even if asked twice."""
    settings = settings_for(tmp_path, "")
    store.enqueue([email("only-once")], T0)
    assert deliver_due(store, settings, T0, {}).sent == 1
    delivered = list((settings.mail.maildir / "new").iterdir())
    assert len(delivered) == 1
    assert delivered[0].stat().st_mode & 0o077 == 0
    parsed = BytesParser(policy=policy.default).parsebytes(delivered[0].read_bytes())
    assert parsed["Subject"] == "NCT07310784 is now recruiting"
    # A crash after the file was written but before the row was marked: the retry is a no-op.
    store.db.execute("UPDATE outbox SET status = 'pending'")
    store.db.conn.commit()
    assert deliver_due(store, settings, T0, {}).sent == 1
    assert len(list((settings.mail.maildir / "new").iterdir())) == 1


class Hook(BaseHTTPRequestHandler):
    """Records webhook POSTs; answers with the status the test queued."""

    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    statuses: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = self.statuses.pop(0) if self.statuses else 204
        if status < 300:
            self.received.append((dict(self.headers), body))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def hook() -> Iterator[str]:
    Hook.received, Hook.statuses = [], []
    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


@pytest.mark.slow
def test_webhooks_are_signed_and_retried(store: Store, tmp_path: Path, hook: str) -> None:
    """A 503 is retried; the delivered POST carries an HMAC-SHA256 of its timestamp and body.

    Before the reliability issue the HMAC covered the body alone, so a captured POST could be
    replayed for ever; the receiver now checks it as the README says, done here by hand.
    """
    settings = settings_for(tmp_path, f'[[webhooks]]\nurl = "{hook}"\nsecret = "s3cret"\n')
    body = json.dumps({"nct_id": "NCT07310784", "changes": []}).encode()
    store.enqueue([Outgoing("wh1", "webhook", hook, "NCT07310784 v2", body)], T0)
    Hook.statuses = [503]
    assert deliver_due(store, settings, T0, {}).deferred == 1
    assert deliver_due(store, settings, retry_at(1, T0), {}).sent == 1
    ((headers, got),) = Hook.received
    assert got == body
    timestamp = int(headers[TIMESTAMP_HEADER])
    assert abs(time.time() - timestamp) < 60  # the sender's clock at send time
    expected = hmac.new(b"s3cret", f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == f"sha256={expected}" == signature("s3cret", timestamp, body)
    assert signature("s3cret", timestamp + 600, body) != headers[SIGNATURE_HEADER]  # no replay
    assert headers["X-Trialwatch-Delivery"] == "wh1"


@pytest.mark.slow
def test_a_webhook_client_error_is_final(store: Store, tmp_path: Path, hook: str) -> None:
    """A 400 will not get better by retrying: the row is failed with the answer."""
    settings = settings_for(tmp_path, f'[[webhooks]]\nurl = "{hook}"\nsecret = "s3cret"\n')
    store.enqueue([Outgoing("wh2", "webhook", hook, "x", b"{}")], T0)
    Hook.statuses = [400]
    assert deliver_due(store, settings, T0, {}).failed == 1
    assert "400" in store.outbox_summary()["failures"][0]["error"]


def test_backoff_doubles_and_is_capped() -> None:
    """Retries wait 1, 2, 4 … minutes, never more than six hours."""
    assert [retry_at(n, T0) - T0 for n in (1, 2, 3)] == [
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
    ]
    assert retry_at(30, T0) - T0 == timedelta(hours=6)


# -- claims: each message sent at most once, whoever drains ------------------------------------


def subscribed(store: Store, address: str) -> Outgoing:
    """A subscriber of a watched trial, and one email queued for them."""
    store.add_watches(["NCT07310784"], T0)
    person = store.subscribe(address, ["NCT07310784"], T0).subscriber
    message = email(f"to-{address}", to=address)
    store.enqueue([Outgoing(**{**asdict(message), "subscriber_id": person.id})], T0)
    return message


def test_two_drains_at_once_send_each_message_once(
    tmp_path: Path, smtp_server: tuple[MailSink, int]
) -> None:
    """Two drains on two connections, started together, share 20 messages without a double."""
    sink, port = smtp_server
    settings = smtp(tmp_path, port)
    path = tmp_path / "state" / "t.db"
    with Store(path) as store:
        store.enqueue([email(f"k{n}") for n in range(20)], T0)
    start = threading.Barrier(2)
    reports: list[int] = []

    def drain() -> None:
        with Store(path) as own:
            start.wait()
            reports.append(deliver_due(own, settings, T0, {}).sent)

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [m["Message-ID"] for m in sink.messages]
    assert sum(reports) == 20 and len(ids) == 20 and len(set(ids)) == 20


def test_cancelled_is_final_even_for_a_claimed_message(
    store: Store, smtp_server: tuple[MailSink, int], tmp_path: Path
) -> None:
    """An unsubscribe cancels a message a drain has claimed; that drain's outcome is ignored."""
    sink, port = smtp_server
    subscribed(store, "pat@example.org")
    at = datetime.now(UTC)
    (row,) = store.claim_due(T0, "drain-a", at=at, until=at + LEASE)
    person = store.subscriber(email="pat@example.org")
    assert person is not None and store.unsubscribe(person) == 1
    assert not store.hold(row.id, "drain-a", at=at, until=at + LEASE)  # the sender skips it
    store.settle(Outcome.sent(row.id, T0), "drain-a")
    store.settle(Outcome.retry(row.id, "421", T0), "drain-a")
    assert store.db.execute("SELECT status FROM outbox").fetchall() == [("cancelled",)]
    assert deliver_due(store, smtp(tmp_path, port), T0 + timedelta(days=1), {}).attempted == 0
    assert sink.messages == []


def test_a_drain_skips_what_was_cancelled_while_it_sent_another(
    store: Store, gated_smtp_server: tuple[GatedSink, int], tmp_path: Path
) -> None:
    """Claimed together, the second message is cancelled while the first is at the server."""
    sink, port = gated_smtp_server
    subscribed(store, "first@example.org")
    subscribed(store, "second@example.org")
    sink.gate.clear()
    settings = smtp(tmp_path, port)
    path = store.path
    report: list[DeliveryReport] = []

    def drain() -> None:
        with Store(path) as own:
            report.append(deliver_due(own, settings, T0, {}))

    thread = threading.Thread(target=drain)
    thread.start()
    assert sink.held.wait(5)  # the first message is at MAIL FROM
    second = store.subscriber(email="second@example.org")
    assert second is not None and store.unsubscribe(second) == 1
    sink.gate.set()
    thread.join(10)
    assert [m["To"] for m in sink.messages] == ["first@example.org"]
    assert report[0].sent == 1
    statuses = store.db.execute("SELECT status FROM outbox ORDER BY id").fetchall()
    assert statuses == [("sent",), ("cancelled",)]


class WatchingSink(MailSink):
    """A mail server that, as each message arrives, reads the outbox (its own connection) and
    can run something before it answers, as another process would between two sends."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.seen: list[list[str]] = []  # the outbox's statuses as each message arrived
        self.on_first: list[Any] = []  # run once, while the first message is at the server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with Store(self.path) as own:
            rows = own.db.execute("SELECT status FROM outbox ORDER BY id").fetchall()
            self.seen.append([status for (status,) in rows])
            while self.on_first:
                self.on_first.pop()(own)
        return await super().handle_DATA(server, session, envelope)


def test_each_outcome_is_in_before_the_next_message_goes(store: Store, tmp_path: Path) -> None:
    """The outcome of a message is committed with the next one's claim check, while the server
    answers its MAIL FROM: when a message's data reaches the server, all before it are sent."""
    sink = WatchingSink(store.path)
    store.enqueue([email(f"k{n}", to=f"r{n}@example.org") for n in range(4)], T0)
    with serving(sink) as port:
        assert deliver_due(store, smtp(tmp_path, port), T0, {}).sent == 4
    assert sink.seen == [
        ["pending", "pending", "pending", "pending"],
        ["sent", "pending", "pending", "pending"],
        ["sent", "sent", "pending", "pending"],
        ["sent", "sent", "sent", "pending"],
    ]
    assert store.db.execute("SELECT DISTINCT status, claimed_by FROM outbox").fetchall() == [
        ("sent", None)
    ]


def test_a_message_cancelled_between_two_sends_does_not_go(store: Store, tmp_path: Path) -> None:
    """Unsubscribed while the message before it was at the server, after the drain claimed
    both: the check that records the first one's outcome finds the second cancelled, and the
    session goes on (RSET) with the third."""
    sink = WatchingSink(store.path)
    subscribed(store, "first@example.org")
    subscribed(store, "second@example.org")
    subscribed(store, "third@example.org")

    def unsubscribe_second(own: Store) -> None:
        person = own.subscriber(email="second@example.org")
        assert person is not None and own.unsubscribe(person) == 1

    sink.on_first.append(unsubscribe_second)
    with serving(sink) as port:
        report = deliver_due(store, smtp(tmp_path, port), T0, {})
    assert [m["To"] for m in sink.messages] == ["first@example.org", "third@example.org"]
    assert (report.sent, report.attempted, report.errors) == (2, 2, [])
    statuses = store.db.execute("SELECT status FROM outbox ORDER BY id").fetchall()
    assert statuses == [("sent",), ("cancelled",), ("sent",)]


def test_a_lapsed_claim_is_renewed_only_while_nobody_took_it(store: Store) -> None:
    """`hold` on a claim whose lease ran out: renewed when the row is still the drain's, refused
    once another drain claimed it; the outcome it carries is recorded either way it may be."""
    store.enqueue([email("a"), email("b")], T0)
    at = datetime.now(UTC)
    first, second = store.claim_due(T0, "drain-a", at=at, until=at + timedelta(seconds=1))
    later = at + timedelta(seconds=2)
    assert store.hold(first.id, "drain-a", at=later, until=later + LEASE)
    assert store.claim_due(T0, "drain-b", at=later, until=later + LEASE) == [second]
    settling = Outcome.sent(first.id, T0)
    assert not store.hold(second.id, "drain-a", at=later, until=later + LEASE, settling=settling)
    rows = store.db.execute("SELECT status, claimed_by FROM outbox ORDER BY id").fetchall()
    assert rows == [("sent", None), ("pending", "drain-b")]


def test_a_drain_folds_its_log_into_the_file_and_gives_the_connection_back(
    store: Store, smtp_server: tuple[MailSink, int], tmp_path: Path
) -> None:
    """A drain checkpoints once a batch rather than every 1,000 pages; at its end what it wrote
    is in the database file itself (read here without the log), and the connection's own
    settings are back."""
    _, port = smtp_server
    store.enqueue([email(f"k{n}") for n in range(3)], T0)
    pragmas = ("synchronous", "wal_autocheckpoint")
    before = [store.db.execute(f"PRAGMA {name}").fetchone() for name in pragmas]
    assert deliver_due(store, smtp(tmp_path, port), T0, {}).sent == 3
    assert [store.db.execute(f"PRAGMA {name}").fetchone() for name in pragmas] == before
    file_only = sqlite3.connect(f"file:{store.path}?immutable=1", uri=True)
    try:
        assert file_only.execute("SELECT DISTINCT status FROM outbox").fetchall() == [("sent",)]
    finally:
        file_only.close()


def test_a_claim_takes_the_oldest_due_rows_nobody_holds(store: Store) -> None:
    """Oldest first, `limit` at most, past a sent row, a row not due yet, one another drain
    holds and a skipped channel's."""
    store.enqueue([email(f"m{n}", to=f"r{n}@example.org") for n in range(6)], T0)
    at = datetime.now(UTC)
    sent, later, _ = (row.id for row in store.claim_due(T0, "a", at=at, until=at + LEASE, limit=3))
    store.settle(Outcome.sent(sent, T0), "a")
    store.settle(Outcome.retry(later, "421", T0 + timedelta(hours=1)), "a")
    store.enqueue([Outgoing("hook", "webhook", "https://h.example.org/", "s", b"{}")], T0)
    keys = [r.key for r in store.claim_due(T0, "b", at=at, until=at + LEASE, limit=2)]
    assert keys == ["m3", "m4"]
    keys = [r.key for r in store.claim_due(T0, "c", at=at, until=at, skip_channels=["webhook"])]
    assert keys == ["m5"]
    assert [r.key for r in store.claim_due(T0, "d", at=at, until=at + LEASE)] == ["m5", "hook"]


def test_a_dead_senders_lease_runs_out_and_the_message_goes_once(
    store: Store, smtp_server: tuple[MailSink, int], tmp_path: Path
) -> None:
    """A claim whose sender died keeps others off until its lease ends; then it is sent once."""
    sink, port = smtp_server
    settings = smtp(tmp_path, port)
    store.enqueue([email("orphan")], T0)
    (row,) = store.claim_due(T0, "dead", at=datetime.now(UTC), until=datetime.now(UTC) + LEASE)
    assert deliver_due(store, settings, T0, {}).attempted == 0  # still leased

    def later() -> datetime:
        return datetime.now(UTC) + LEASE + timedelta(seconds=1)

    assert deliver_due(store, settings, T0, {}, clock=later).sent == 1
    assert deliver_due(store, settings, T0, {}, clock=later).attempted == 0
    store.settle(Outcome.sent(row.id, T0), "dead")  # the dead sender's late word changes nothing
    assert len(sink.messages) == 1
    assert store.db.execute("SELECT attempts, claimed_by FROM outbox").fetchall() == [(1, None)]


def test_a_server_down_leaves_the_untried_messages_free(store: Store, tmp_path: Path) -> None:
    """Messages not tried because the server was down are released for the next drain."""
    store.enqueue([email("a"), email("b"), email("c")], T0)
    assert deliver_due(store, smtp(tmp_path, free_port()), T0, {}).deferred == 3
    rows = store.db.execute("SELECT attempts, claimed_by FROM outbox ORDER BY id").fetchall()
    assert rows == [(1, None), (0, None), (0, None)]
