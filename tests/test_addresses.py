"""Email addresses: the one check used for settings and for subscribers."""

from __future__ import annotations

import pytest

from watcher.core.addresses import redact_addresses, validate_email, validate_mailbox


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ana@example.org", "ana@example.org"),
        ("  Ana.Lopez+trials@Example.ORG ", "Ana.Lopez+trials@Example.ORG"),
        ("trialwatch@localhost", "trialwatch@localhost"),
        ("o'brien@mail.example.co.uk", "o'brien@mail.example.co.uk"),
        # An IDN domain is kept in its IDNA form, which SMTP and DNS understand (before the
        # reliability issue it was kept in Unicode, and every send of it crashed).
        ("ana@bücher.example", "ana@xn--bcher-kva.example"),
        ("pat@Müller.DE", "pat@xn--mller-kva.de"),
    ],
)
def test_plain_addresses_are_accepted_as_typed(text: str, expected: str) -> None:
    """Ordinary addresses are accepted as typed (an international domain in IDNA form)."""
    assert validate_email(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ana",
        "ana@",
        "@example.org",
        "ana@@example.org",
        "ana lopez@example.org",
        "ana..lopez@example.org",
        ".ana@example.org",
        "ana@example..org",
        "ana@-example.org",
        "ana@example.org,bob@example.org",
        "Ana <ana@example.org>",
        "ana@example.org\r\nBcc: everyone@example.org",
        "zoë@example.org",  # non-ASCII local parts need SMTPUTF8, which is not assumed
    ],
)
def test_anything_else_is_refused_with_an_example(text: str) -> None:
    """Text that is not one plain address is refused, showing what an address looks like."""
    with pytest.raises(ValueError, match=r"is not an email address; expected e\.g\. name@"):
        validate_email(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("trialwatch <trialwatch@localhost>", "trialwatch <trialwatch@localhost>"),
        ("Trial Watch<Alerts@Example.org>", "Trial Watch <Alerts@Example.org>"),
        ('"Lopez, Ana" <ana@example.org>', '"Lopez, Ana" <ana@example.org>'),
        ("Dr. Ana <ana@example.org>", '"Dr. Ana" <ana@example.org>'),
        ("<ana@example.org>", "ana@example.org"),
        ("ana@example.org", "ana@example.org"),
        ("Zoë Martín <zoe@example.org>", "Zoë Martín <zoe@example.org>"),
    ],
)
def test_mailbox_accepts_a_display_name(text: str, expected: str) -> None:
    """A From: address may carry a display name, quoted when it holds punctuation."""
    assert validate_mailbox(text) == expected


@pytest.mark.parametrize(
    "text",
    ["Ana <not-an-address>", "Ana <ana@example.org", "Ana\x07 <ana@example.org>", "Ana <>"],
)
def test_mailbox_refuses_a_broken_address_or_name(text: str) -> None:
    """A display name with a broken address, or control characters, is refused."""
    with pytest.raises(ValueError):
        validate_mailbox(text)


def test_a_non_ascii_local_part_is_refused_saying_why() -> None:
    """zoë@… could only be sent with SMTPUTF8: the refusal says so, not a failure at delivery."""
    with pytest.raises(ValueError, match="need SMTPUTF8"):
        validate_email("zoë@example.org")


def test_free_text_loses_every_form_of_address() -> None:
    """A server's answer or a log line keeps its words and loses its addresses."""
    text = '550 5.1.1 <pat@xn--mller-kva.de>: unknown; tried "a b"@example.org and root@host'
    assert redact_addresses(text) == "550 5.1.1 <<email>>: unknown; tried <email> and <email>"
