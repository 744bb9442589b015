"""The daemon's pid file: one daemon per state directory, and whether it is alive.

Why it looks like this: the pid file is locked (flock) while the daemon runs. The lock, not the
pid, says whether a daemon is alive, so a pid file left by a crash (its pid maybe reused) is
never taken for one, and `trialwatch status` can tell "stopped" from "crashed".
"""

from __future__ import annotations

import errno
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from watcher.errors import WatcherError

PID_FILE = "trialwatch.pid"  # in the state directory

DaemonState = Literal["running", "stopped", "crashed"]


@dataclass(frozen=True, slots=True)
class DaemonProcess:
    """Whether a daemon holds the pid file: `crashed` means a file with no daemon behind it."""

    state: DaemonState
    pid: int | None


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


class PidFile:
    """`<state dir>/trialwatch.pid`, private, locked for as long as the daemon runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock and write our pid, or say which daemon already holds it."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise WatcherError(
                f"another trialwatch daemon (pid {pid}) is already running with the state "
                f"directory {self.path.parent}; stop it first (two would poll twice)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd

    def release(self) -> None:
        """Remove the file, then let go of the lock (another daemon may start after this)."""
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None


def daemon_process(path: Path) -> DaemonProcess:
    """Whether a daemon holds the pid file at `path`, and its pid."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return DaemonProcess("stopped", None)
    except OSError as exc:
        raise WatcherError(
            f"{path}: cannot read the daemon's pid file ({exc.strerror}); run this as the "
            "daemon's user"
        ) from None
    try:
        pid = _read_pid(fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                raise
            return DaemonProcess("running", pid)
        return DaemonProcess("crashed", pid)
    finally:
        os.close(fd)
