"""Daemon logging: journald-friendly lines, and no email address in any of them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from watcher.core.addresses import redact_addresses as redact
from watcher.service.logs import setup_logging


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    """A real file as the log stream; the root logger is put back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    path = tmp_path / "stderr.log"
    yield path
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        if isinstance(handler, logging.StreamHandler):
            handler.stream.close()
    root.setLevel(level)


def _log_to(path: Path, env: dict[str, str], level: str = "info") -> None:
    setup_logging(level, env=env, stream=path.open("a", encoding="utf-8"))


def test_addresses_are_redacted_everywhere() -> None:
    """Every address in a text becomes <email>, in every form; other text with an @ is left alone.

    (Before the reliability issue "user@localhost" was left alone: a domain without a dot is an
    address too, and the log must not show it.)
    """
    assert redact("sent to a.b+c@example.org and x@mail.example.co.uk") == (
        "sent to <email> and <email>"
    )
    assert redact("@ 10:02, user@localhost") == "@ 10:02, <email>"
    assert redact('550 <"ana lopez"@example.org>: zoë@bücher.de, root@[127.0.0.1]') == (
        "550 <<email>>: <email>, <email>"
    )


def test_log_lines_never_show_an_address(log_file: Path) -> None:
    """An address in a message, its arguments or a traceback does not reach the log."""
    _log_to(log_file, {})
    log = logging.getLogger("watcher.test")
    log.warning("delivery to %s deferred", "reader@example.org")
    try:
        raise ValueError("refused: admin@example.org")
    except ValueError:
        log.exception("unexpected for %s", "someone@example.net")
    text = log_file.read_text(encoding="utf-8")
    assert "@example" not in text
    assert "delivery to <email> deferred" in text
    assert "unexpected for <email>" in text
    assert "ValueError: refused: <email>" in text


def test_journal_lines_carry_a_priority_and_no_time(log_file: Path) -> None:
    """Under journald (JOURNAL_STREAM names the stream) lines are "<N>LEVEL name: message"."""
    log_file.touch()
    info = log_file.stat()
    _log_to(log_file, {"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"})
    logging.getLogger("watcher.service.daemon").warning("cycle: 1 failed")
    logging.getLogger("watcher.service.daemon").info("cycle: 2 checked")
    assert log_file.read_text(encoding="utf-8").splitlines() == [
        "<4>WARNING watcher.service.daemon: cycle: 1 failed",
        "<6>INFO watcher.service.daemon: cycle: 2 checked",
    ]


def test_a_terminal_gets_timestamps(log_file: Path) -> None:
    """Outside journald (or with a JOURNAL_STREAM naming another file) lines start with a time."""
    _log_to(log_file, {"JOURNAL_STREAM": "1:2"})
    logging.getLogger("watcher.service.daemon").info("hello")
    line = log_file.read_text(encoding="utf-8").strip()
    assert line.endswith("INFO watcher.service.daemon: hello")
    assert line[:4].isdigit() and not line.startswith("<")


def test_chatty_libraries_stay_quiet_unless_debugging(log_file: Path) -> None:
    """httpx and APScheduler narrate at INFO; that shows only when [log].level is debug."""
    _log_to(log_file, {}, level="info")
    logging.getLogger("httpx").info("HTTP Request: GET /version")
    assert log_file.read_text(encoding="utf-8") == ""
    _log_to(log_file, {}, level="debug")
    logging.getLogger("httpx").info("HTTP Request: GET /version")
    assert "GET /version" in log_file.read_text(encoding="utf-8")
