"""SMTP delivery of awkward recipients: one bad address fails its own message, never the drain."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import MailSink, Trialwatch, free_port
from test_outbox import T0, email, smtp

from watcher.core.notify import addressee
from watcher.delivery.outbox import LEASE, deliver_due
from watcher.store.database import Store
from watcher.store.outbox import Outcome


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "state" / "t.db") as opened:
        yield opened


@pytest.fixture(params=[False, True], ids=["plain", "smtputf8"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[MailSink, int, bool]]:
    """An aiosmtpd server that offers SMTPUTF8 or does not; yields its sink, port and which."""
    from aiosmtpd.controller import Controller

    sink, port, utf8 = MailSink(), free_port(), bool(request.param)
    controller = Controller(sink, hostname="127.0.0.1", port=port, enable_SMTPUTF8=utf8)
    controller.start()
    try:
        yield sink, port, utf8
    finally:
        controller.stop()


def test_a_non_ascii_local_part_goes_only_with_smtputf8(
    store: Store, server: tuple[MailSink, int, bool], tmp_path: Path
) -> None:
    """Offered SMTPUTF8, the address goes as it is; else that row fails saying why, alone."""
    sink, port, utf8 = server
    store.enqueue([replace(email("zoe"), recipient="zoë@example.org"), email("good")], T0)
    report = deliver_due(store, smtp(tmp_path, port), T0, {})
    assert (report.sent, report.failed) == ((2, 0) if utf8 else (1, 1))
    if utf8:
        assert ("alerts@example.org", ["zoë@example.org"]) in sink.envelopes
    else:
        (failure,) = store.outbox_summary()["failures"]
        assert "does not offer SMTPUTF8" in failure["error"]
    assert ("alerts@example.org", ["pat@example.org"]) in sink.envelopes


@pytest.mark.slow
def test_an_idn_domain_queued_in_unicode_goes_out_in_idna(
    store: Store, smtp_server: tuple[MailSink, int], tmp_path: Path
) -> None:
    """A row queued before addresses were stored in IDNA form still reaches its server."""
    sink, port = smtp_server
    store.enqueue([replace(email("idn"), recipient="pat@müller.de")], T0)
    assert deliver_due(store, smtp(tmp_path, port), T0, {}).sent == 1
    assert sink.envelopes == [("alerts@example.org", ["pat@xn--mller-kva.de"])]


def test_a_rejection_keeps_the_answer_and_loses_the_address(
    store: Store, smtp_server: tuple[MailSink, int], tmp_path: Path
) -> None:
    """Status, check and deliver print the server's answer: the address in it is redacted."""
    sink, port = smtp_server
    sink.answers = ["550 5.1.1 <nobody@example.org>: Recipient address rejected"]
    store.enqueue([email("bad", to="nobody@example.org")], T0)
    report = deliver_due(store, smtp(tmp_path, port), T0, {})
    assert report.failed == 1
    (failure,) = store.outbox_summary()["failures"]
    assert "550 5.1.1 <<email>>: Recipient address rejected" in failure["error"]
    assert "nobody@" not in str(store.outbox_summary())


def test_status_shows_no_address_even_from_rows_failed_before(
    trialwatch: Trialwatch,
) -> None:
    """A row whose stored error still quotes an address is shown without it, text and JSON."""
    trialwatch("watch", "add", "NCT07310784")  # creates the database
    with Store(trialwatch.state_dir / "trialwatch.db") as store:
        store.enqueue([email("NCT07310784/v2/s7", to="pat@example.org")], T0)
        (row,) = store.claim_due(T0, "this test", at=T0, until=T0 + LEASE)
        store.settle(
            Outcome.failed(row.id, "recipient refused: 550 <pat@example.org> unknown; root@mx"),
            "this test",
        )
    text = trialwatch("status").stdout
    assert "  subscription 7: NCT07310784 is now recruiting: recipient refused: 550" in text
    (failure,) = trialwatch.json("status")["outbox"]["failures"]
    assert failure["to"] == "subscription 7"
    shown = text + str(failure)
    assert "550 <<email>> unknown; <email>" in shown
    assert "pat@" not in shown and "root@" not in shown


def test_deliver_prints_the_answer_without_the_address(
    trialwatch: Trialwatch, smtp_server: tuple[MailSink, int]
) -> None:
    """`deliver` and `deliver --json` show why a message failed, not whom it was for."""
    sink, port = smtp_server
    with trialwatch.config.open("a", encoding="utf-8") as config:
        config.write(f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n')
    trialwatch("watch", "add", "NCT07310784")
    shown = []
    for key, command in (("ann", ("deliver",)), ("bob", ("deliver", "--json"))):
        with Store(trialwatch.state_dir / "trialwatch.db") as store:
            store.enqueue([email(key, to=f"{key}@example.org")], T0)
        sink.answers = [f"550 5.1.1 <{key}@example.org>: no such user"]
        shown.append(trialwatch(*command).stdout)
    assert all("<<email>>: no such user" in out for out in shown)
    assert "ann@" not in shown[0] and "bob@" not in shown[1]


@pytest.mark.parametrize(
    ("key", "who"),
    [
        ("NCT07310784/v2/s7", "subscription 7"),
        ("digest/daily/p12/c345", "subscriber 12"),
        ("welcome/NCT07310784/20261124T090000000000/s7", "subscription 7"),
        ("NCT07310784/gone-after-v3/p12", "subscriber 12"),
        ("NCT07310784/unwatched-20261124T090000000000/p12", "subscriber 12"),
        ("NCT07310784/v2/hook-0123456789abcdef", "a webhook"),
        ("admin/outage/registry/2026-11-24T09:00:00+00:00", "the admin"),
    ],
)
def test_a_message_is_named_by_whom_it_is_for_not_by_address(key: str, who: str) -> None:
    """What `status` shows instead of an address, read from the outbox key."""
    assert addressee(key) == who


@pytest.mark.parametrize(
    "body",
    [
        b"Subject: dots\r\n\r\n.one\r\n..two\r\nthree.\r\n",
        b".first line\r\n\r\nno newline at the end",
        b"Subject: none\r\n\r\nnot a single line starts with a dot\r\n",
    ],
    ids=["dot lines", "dot first, no end", "no dots"],
)
def test_a_message_arrives_byte_for_byte_whatever_its_lines_start_with(
    store: Store, smtp_server: tuple[MailSink, int], tmp_path: Path, body: bytes
) -> None:
    """Lines starting with a dot are doubled on the wire and undoubled by the server (the
    regex runs only for bodies that have one); a body without a final line break gets one."""
    sink, port = smtp_server
    store.enqueue([replace(email("dots"), body=body)], T0)
    assert deliver_due(store, smtp(tmp_path, port), T0, {}).sent == 1
    assert sink.raw == [body if body.endswith(b"\r\n") else body + b"\r\n"]
