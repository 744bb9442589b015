"""Email headers as they leave on the wire: List-Unsubscribe readable, nothing injectable."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import pytest
from conftest import MailSink

from watcher.config import load_settings
from watcher.core import message
from watcher.core.message import (
    Attachment,
    Outgoing,
    build_email,
    unsubscribe_targets,
    wire_bytes,
)
from watcher.delivery.outbox import deliver_due
from watcher.store.database import Store

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
SENDER = "trialwatch <alerts@example.org>"
TOKEN = "k3Jx9-long-enough-token-to-push-the-header-past-seventy-eight-characters"
HOSTILE = "A study\r\nBcc: everyone@example.org\u2028X-Evil: 1\x00\x1b[31m"


def raw_email(web_base_url: str | None, subject: str = "NCT07310784 is now recruiting") -> bytes:
    msg = build_email(
        sender=SENDER,
        to="pat@example.org",
        subject=subject,
        text="text\n",
        html="<p>html</p>\n",
        key="NCT07310784/v2/s1",
        date=T0,
        unsubscribe=unsubscribe_targets(TOKEN, web_base_url, SENDER),
    )
    return wire_bytes(msg)


def header_block(raw: bytes) -> str:
    return raw.split(b"\r\n\r\n", 1)[0].decode("ascii")


def test_list_unsubscribe_is_plain_urls_folded_only_at_commas() -> None:
    """Both targets in angle brackets, unencoded, the fold between them; one-click beside https."""
    head = header_block(raw_email("https://trials.example.org"))
    assert "=?" not in head
    assert (
        f"List-Unsubscribe: <https://trials.example.org/unsubscribe/{TOKEN}>,\r\n"
        f" <mailto:alerts@example.org?subject=unsubscribe%20{TOKEN}>\r\n"
    ) in head
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in head


def test_a_mailto_alone_gets_no_one_click_header() -> None:
    """RFC 8058: List-Unsubscribe-Post needs an https URI; a mailto: alone goes without it."""
    head = header_block(raw_email(None))
    assert f"List-Unsubscribe: <mailto:alerts@example.org?subject=unsubscribe%20{TOKEN}>\r\n" in (
        head
    )
    assert "List-Unsubscribe-Post" not in head


@pytest.mark.parametrize("subject", [HOSTILE, "line\nbreak", "para\u2029graph", "tab\there"])
def test_a_hostile_title_never_raises_nor_starts_a_header(subject: str) -> None:
    """CR, LF, U+2028/9 and control characters in a subject become spaces before it is set."""
    head = header_block(raw_email(None, subject=subject))
    names = [line.split(":", 1)[0] for line in head.split("\r\n") if not line[:1].isspace()]
    assert "Bcc" not in names and "X-Evil" not in names
    assert all(ch >= " " for ch in head.replace("\r\n", ""))


@pytest.mark.slow
def test_the_server_receives_the_header_unencoded(
    tmp_path: Path, smtp_server: tuple[MailSink, int]
) -> None:
    """The raw bytes aiosmtpd received carry List-Unsubscribe as written, not =?utf-8?q?…"""
    sink, port = smtp_server
    config = tmp_path / "config.toml"
    config.write_text(
        f'[mail]\nfrom = "{SENDER}"\n[smtp]\nhost = "127.0.0.1"\nport = {port}\n'
        'security = "none"\n',
        encoding="utf-8",
    )
    settings = load_settings(config, env={"STATE_DIRECTORY": str(tmp_path / "state")})
    body = raw_email("https://trials.example.org", subject=HOSTILE)
    with Store(tmp_path / "state" / "t.db") as store:
        store.enqueue([Outgoing("k1", "email", "pat@example.org", "s", body)], T0)
        assert deliver_due(store, settings, T0, {}).sent == 1
    (raw,) = sink.raw
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"=?utf-8?q?=3C" not in head
    assert f"List-Unsubscribe: <https://trials.example.org/unsubscribe/{TOKEN}>,".encode() in head
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in head
    assert b"\r\nBcc:" not in head and b"\r\nX-Evil:" not in head


@pytest.mark.parametrize(
    ("to", "header"),
    [
        ("pat@müller.de", "To: pat@xn--mller-kva.de\r\n"),
        ("zoë@example.org", "To: undisclosed-recipients:;\r\n"),
    ],
)
def test_a_subscriber_stored_before_the_checks_never_breaks_building(to: str, header: str) -> None:
    """A Unicode domain is written in IDNA; a non-ASCII local part leaves To: an empty group
    (the envelope carries it), instead of raising inside the poll that plans the message."""
    msg = build_email(
        sender=SENDER, to=to, subject="s", text="t\n", html="<p>h</p>\n", key="k", date=T0
    )
    assert header in header_block(wire_bytes(msg))


def stock_bytes(monkeypatch: pytest.MonkeyPatch, build: Callable[[], bytes]) -> bytes:
    """What `build` gives when the email package makes every header afresh, as it does alone
    (its own header factory: a new class and a new parse per header, folded each time)."""
    with monkeypatch.context() as patched:
        patched.setattr(message, "_BUILD", policy.default)
        patched.setattr(message, "_WIRE", policy.SMTP.clone(refold_source="none"))
        return build()


VARIED = [
    ("pat@example.org", "NCT07310784 is now recruiting", "text\n", ()),
    ("zoë@exämple.org", "Ein Studientitel — über 78 Zeichen " * 3, "ü\n" * 40, ()),
    (
        "a" * 60 + "@example.org",
        HOSTILE,
        "x" * 200 + "\n",
        (Attachment("c.csv", "text/csv", b"a,b\r\n"),),
    ),
]


@pytest.mark.parametrize(("to", "subject", "text", "attachments"), VARIED)
def test_remembered_headers_give_the_bytes_the_email_package_gives_alone(
    monkeypatch: pytest.MonkeyPatch,
    to: str,
    subject: str,
    text: str,
    attachments: tuple[Attachment, ...],
) -> None:
    """Headers are parsed once and folded once for many messages (`message._Headers`): every
    message is still the bytes the stock email package writes, the first time and after."""

    def build() -> bytes:
        msg = build_email(
            sender=SENDER,
            to=to,
            subject=subject,
            text=text,
            html=f"<p>{text}</p>\n",
            key=f"NCT07310784/v2/{to}",
            date=T0,
            unsubscribe=unsubscribe_targets(TOKEN, "https://trials.example.org", SENDER),
            attachments=attachments,
        )
        return wire_bytes(msg)

    expected = stock_bytes(monkeypatch, build)
    assert [build() for _ in VARIED] == [expected] * len(VARIED)
