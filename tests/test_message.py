"""Email headers as they leave on the wire: List-Unsubscribe readable, nothing injectable."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from hashlib import sha256
from pathlib import Path

import pytest
from conftest import MailSink

from watcher.config import load_settings
from watcher.core.addresses import validate_email
from watcher.core.message import (
    Attachment,
    Outgoing,
    build_email,
    message_id,
    single_line,
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


def stock_bytes(
    to: str,
    subject: str,
    text: str,
    key: str,
    attachments: tuple[Attachment, ...],
    sender: str = SENDER,
) -> bytes:
    """The message as the email package writes it alone, the way `build_email` did before it
    made headers once for many messages and the MIME tree directly: the package's own header
    factory (a class and a parse per header), `set_content` then `add_alternative`, boundaries
    set last."""
    msg = EmailMessage(policy=policy.default)
    msg["From"] = sender
    try:
        msg["To"] = Address(addr_spec=validate_email(to))
    except ValueError:  # no ASCII form: the envelope alone carries it
        msg["To"] = "undisclosed-recipients:;"
    msg["Subject"] = single_line(subject)
    msg["Date"] = format_datetime(T0)
    msg["Message-ID"] = message_id(key, sender)
    msg["Auto-Submitted"] = "auto-generated"
    targets = unsubscribe_targets(TOKEN, "https://trials.example.org", sender)
    msg.set_raw("List-Unsubscribe", ",\n ".join(f"<{target}>" for target in targets))
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text)
    msg.add_alternative(f"<p>{text}</p>\n", subtype="html")
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        msg.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    boundary = f"=_trialwatch_{sha256(key.encode()).hexdigest()[:24]}"
    msg.set_boundary(boundary)
    for number, part in enumerate((p for p in msg.iter_parts() if p.is_multipart()), start=1):
        part.set_boundary(f"{boundary}_{number}")
    return msg.as_bytes(policy=policy.SMTP.clone(refold_source="none"))


VARIED = [
    ("pat@example.org", "NCT07310784 is now recruiting", "text\n", ()),  # 7bit
    ("zoë@exämple.org", "Ein Studientitel — über 78 Zeichen " * 3, "ü\n" * 40, ()),  # 8bit
    ("qp@example.org", "Étude", ("é " + "x" * 100 + "\n") * 12, ()),  # quoted-printable
    ("chen@example.org", "试验 " * 30, ("中文" * 50 + "\n") * 3, ()),  # base64
    (
        "a" * 60 + "@example.org",
        HOSTILE,
        "x" * 200 + "\n",
        (Attachment("c.csv", "text/csv", b"a,b\r\n"), Attachment("d.csv", "text/csv", b"c")),
    ),
]


@pytest.mark.parametrize(("to", "subject", "text", "attachments"), VARIED)
def test_a_message_is_the_bytes_the_email_package_writes_alone(
    to: str, subject: str, text: str, attachments: tuple[Attachment, ...]
) -> None:
    """Headers are parsed once and folded once for many messages (`message._Headers`) and the
    MIME tree is made directly: every message is still the bytes the email package writes
    alone, the first time and after the others."""
    key = f"NCT07310784/v2/{to}"

    def build() -> bytes:
        msg = build_email(
            sender=SENDER,
            to=to,
            subject=subject,
            text=text,
            html=f"<p>{text}</p>\n",
            key=key,
            date=T0,
            unsubscribe=unsubscribe_targets(TOKEN, "https://trials.example.org", SENDER),
            attachments=attachments,
        )
        return wire_bytes(msg)

    expected = stock_bytes(to, subject, text, key, attachments)
    assert [build() for _ in VARIED] == [expected] * len(VARIED)


# Where the To: and Message-ID: lines stop fitting in 78 characters (written as they are, set
# raw) and start being the package's to fold: addresses of 72 to 75 characters, a long one,
# and sender domains of 20 to 22 characters and a long one.
EDGES = [
    *(("x" * n + "@example.org", "alerts@example.org") for n in (60, 61, 62, 63, 120)),
    *(("pat@example.org", f"alerts@{'d' * n}.org") for n in (16, 17, 18, 60)),
]


@pytest.mark.parametrize(("to", "address"), EDGES)
def test_a_header_of_a_readers_own_is_written_as_the_package_folds_it(
    to: str, address: str
) -> None:
    """To:, Message-ID: and Content-Type: are set raw when the package would write them as
    they are (`message._set_plain`): on either side of where a line fits, the same bytes."""
    sender, key = f"trialwatch <{address}>", f"NCT07310784/v2/{to}"
    msg = build_email(
        sender=sender,
        to=to,
        subject="s",
        text="t\n",
        html="<p>t\n</p>\n",  # as `stock_bytes` makes it
        key=key,
        date=T0,
        unsubscribe=unsubscribe_targets(TOKEN, "https://trials.example.org", sender),
    )
    assert wire_bytes(msg) == stock_bytes(to, "s", "t\n", key, (), sender)
