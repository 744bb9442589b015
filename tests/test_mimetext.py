"""A text part made by `watcher.core.mimetext` is the part the email package makes, byte for byte:
the quoted-printable body, and the choice between 7bit, 8bit, quoted-printable and base64."""

from __future__ import annotations

import random
from email import policy, quoprimime
from email.message import EmailMessage

import pytest

from watcher.core.mimetext import encoded_line, text_part

# Characters that each take a different path: plain, "=", tab and space (quoted at a line's
# end), CR and LF, controls, Latin-1, a 3-byte and a 4-byte UTF-8 character.
ALPHABET = "abcXYZ019 -.<>~=\t \r\n\x00\x0b\x1f\x7fé—中😀"
EDGES = [
    "",
    "\n",
    "=" * 200,
    "x" * 75 + " \n",
    "x" * 76 + " \n",
    "x" * 77 + "\t\n",
    "x" * 74 + "=" + "y" * 10,
    "x" * 75 + "é" + "y" * 10 + "\r\n",
    " " * 300,
    "no newline at the end " * 8,
    '<p style="margin:0 0 12px 0;font-family:Arial">' * 5 + "\n",
]


def random_texts(count: int) -> list[str]:
    pick = random.Random(15)
    texts = []
    for _ in range(count):
        line_lengths = [pick.choice((0, 1, 40, 74, 75, 76, 77, 78, 79, 80, 150)) for _ in range(14)]
        lines = ["".join(pick.choice(ALPHABET) for _ in range(n)) for n in line_lengths]
        texts.append("\n".join(lines[: pick.randint(1, 14)]) + pick.choice(("", "\n", " ")))
    return texts


@pytest.mark.parametrize("maxlinelen", [76, 78])
def test_quoted_printable_is_the_email_packages_string(maxlinelen: int) -> None:
    """A body's lines encoded one by one and joined are what the package's encoder makes of
    the whole body (the lines joined with "\n", as `set_content` hands them over)."""
    for text in EDGES + random_texts(200):
        lines = text.encode("utf-8").splitlines()
        whole = (b"\n".join(lines) + b"\n").decode("latin-1")
        joined = "\n".join(encoded_line(line, maxlinelen) for line in lines) + "\n"
        assert joined == quoprimime.body_encode(whole, maxlinelen), text


def stock_part(text: str, subtype: str) -> EmailMessage:
    part = EmailMessage(policy=policy.default)
    part.set_content(text, subtype=subtype)
    return part


@pytest.mark.parametrize("subtype", ["plain", "html"])
def test_a_text_part_is_the_part_set_content_makes(subtype: str) -> None:
    encodings = set()
    for text in EDGES + random_texts(80) + ["short\n", "é\n" * 3, "中文" * 40 + "\n"]:
        ours, stock = text_part(text, subtype, policy.default), stock_part(text, subtype)
        assert ours.items() == stock.items(), text
        assert ours.as_bytes(policy=policy.SMTP) == stock.as_bytes(policy=policy.SMTP), text
        assert ours.get_content() == stock.get_content()
        encodings.add(stock["Content-Transfer-Encoding"])
    assert encodings == {"7bit", "8bit", "quoted-printable", "base64"}  # every path was taken
