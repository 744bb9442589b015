"""Tell systemd how the daemon is doing, with the standard library only (sd_notify(3)).

systemd passes `$NOTIFY_SOCKET`, a Unix datagram socket; each datagram is newline-separated
`KEY=value` lines. We send `READY=1` once the scheduler runs (so `systemctl start` returns only
then), `STATUS=…` after each cycle (shown by `systemctl status`), `WATCHDOG=1` while
`WatchdogSec=` is set, and `STOPPING=1` on the way out.

Why no library: the protocol is one `sendto()`. Why failures are swallowed: a notification is
advice to the service manager, and a daemon that stops polling because its supervisor went
away would turn a cosmetic fault into a real one. Outside systemd (no `$NOTIFY_SOCKET`) every
call is a no-op, so the daemon runs the same in a terminal.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping
from datetime import timedelta

log = logging.getLogger(__name__)


def _address(value: str) -> str | None:
    """The socket address `$NOTIFY_SOCKET` names: a path, or "@name" in the abstract namespace."""
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    return None  # unset, or a kind we do not speak (e.g. vsock:): notifications are advice


class Notifier:
    """Sends sd_notify messages to the socket named in `env` (the process environment)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._address = _address(env.get("NOTIFY_SOCKET", ""))
        self._socket: socket.socket | None = None
        self._warned = False
        if self._address is not None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @property
    def enabled(self) -> bool:
        """True when a service manager is listening."""
        return self._socket is not None

    def send(self, **fields: str) -> bool:
        """Send one datagram of `KEY=value` lines; False when it could not be delivered."""
        if self._socket is None or self._address is None:
            return False
        # A newline would start a new field: a STATUS text must stay one line.
        message = "\n".join(f"{key}={' '.join(str(v).split())}" for key, v in fields.items())
        try:
            self._socket.sendto(message.encode("utf-8"), self._address)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("cannot notify systemd at %s: %s", self._address, exc.strerror)
            return False
        return True

    def ready(self, status: str) -> bool:
        """Startup is complete."""
        return self.send(READY="1", STATUS=status)

    def status(self, text: str) -> bool:
        """A one-line description of what the daemon is doing."""
        return self.send(STATUS=text)

    def watchdog(self) -> bool:
        """Still alive."""
        return self.send(WATCHDOG="1")

    def stopping(self, status: str) -> bool:
        """Shutdown has begun."""
        return self.send(STOPPING="1", STATUS=status)

    def close(self) -> None:
        """Release the socket."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def watchdog_period(env: Mapping[str, str], pid: int) -> timedelta | None:
    """How often to send `WATCHDOG=1`: half of `WatchdogSec=`, as sd_watchdog_enabled(3) advises.

    None when no watchdog is set, or it is meant for another process (`$WATCHDOG_PID`).
    """
    usec = env.get("WATCHDOG_USEC", "")
    owner = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if owner and (not owner.isdigit() or int(owner) != pid):
        return None
    return timedelta(microseconds=int(usec) / 2)
