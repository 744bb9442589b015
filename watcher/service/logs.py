"""Logging for the daemon: stderr, journald-friendly, never an email address.

Why it looks like this:
- Everything goes to stderr: under systemd that is the journal, in a terminal it is the screen,
  and neither needs a log file to rotate.
- When stderr *is* the journal (`$JOURNAL_STREAM` names the same device and inode, as
  systemd.exec(5) says to check) lines carry no timestamp, since journald adds its own, and start
  with the `<N>` syslog priority journald reads, so `journalctl -p warning` works. Elsewhere
  each line starts with the local time.
- Subscriber addresses are personal data; logs get copied into tickets and chats. A filter on
  the handler rewrites every record, its arguments and its traceback, so no caller has to
  remember to redact.
- Libraries that narrate every request or job run (httpx, APScheduler) are held at WARNING
  unless `[log].level` is debug.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import TextIO

from watcher.core.addresses import redact_addresses

CHATTY_LIBRARIES = ("apscheduler", "httpx", "httpcore")
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
# The syslog priorities journald reads from a "<N>" line prefix (sd-daemon(3)).
_PRIORITY = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}
_HANDLER_NAME = "trialwatch-stderr"


class RedactEmails(logging.Filter):
    """Rewrites a record so that neither its message nor its traceback holds an address."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_addresses(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_addresses(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_addresses(record.stack_info)
        return True


class _JournalFormatter(logging.Formatter):
    """ "<N>LEVEL name: message": journald keeps the priority and adds the time itself."""

    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITY.get(record.levelno, 6)
        return f"<{priority}>{super().format(record)}"


def writes_to_journal(stream: TextIO, env: Mapping[str, str]) -> bool:
    """True when `stream` is the journal stream systemd connected (`$JOURNAL_STREAM`)."""
    expected = env.get("JOURNAL_STREAM", "")
    if not expected:
        return False
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError):  # no file descriptor behind it (a test's StringIO, closed)
        return False
    return expected == f"{info.st_dev}:{info.st_ino}"


def level_number(level: str) -> int:
    """The `logging` level of a `[log].level` word."""
    return _LEVELS[level]


def setup_logging(
    level: str, env: Mapping[str, str] | None = None, stream: TextIO | None = None
) -> logging.Handler:
    """Send all logging to `stream` (stderr) at `level`; calling it again replaces the handler."""
    env = os.environ if env is None else env
    stream = sys.stderr if stream is None else stream
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RedactEmails())
    if writes_to_journal(stream, env):
        handler.setFormatter(_JournalFormatter("%(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S%z"
            )
        )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    set_level(level)
    return handler


def set_level(level: str) -> None:
    """Apply `[log].level` (on start, and again when SIGHUP reloads the settings)."""
    number = level_number(level)
    logging.getLogger().setLevel(number)
    for name in CHATTY_LIBRARIES:
        quiet = number if number == logging.DEBUG else max(number, logging.WARNING)
        logging.getLogger(name).setLevel(quiet)
