"""sd_notify with the standard library, read back on real Unix datagram sockets."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from watcher.service.sdnotify import Notifier, watchdog_period


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket in the abstract namespace, named as systemd names it ("@…")."""
    name = f"trialwatch-sdnotify-{os.getpid()}-{secrets.token_hex(4)}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    yield sock, f"@{name}"
    sock.close()


def test_ready_status_and_stopping_arrive_as_systemd_reads_them(
    listener: tuple[socket.socket, str],
) -> None:
    """READY=1, STATUS= and STOPPING=1 arrive as newline-separated KEY=value datagrams."""
    sock, address = listener
    notifier = Notifier({"NOTIFY_SOCKET": address})
    assert notifier.enabled
    assert notifier.ready("watching 2 trials")
    assert sock.recv(1024) == b"READY=1\nSTATUS=watching 2 trials"
    assert notifier.status("watching 2 trials;\nlast cycle 10:02")
    assert sock.recv(1024) == b"STATUS=watching 2 trials; last cycle 10:02"  # one line
    assert notifier.watchdog()
    assert sock.recv(1024) == b"WATCHDOG=1"
    assert notifier.stopping("stopping")
    assert sock.recv(1024) == b"STOPPING=1\nSTATUS=stopping"
    notifier.close()


def test_a_socket_path_works_too(tmp_path: Path) -> None:
    """A NOTIFY_SOCKET that is a filesystem path is used as such."""
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(5)
        notifier = Notifier({"NOTIFY_SOCKET": str(path)})
        assert notifier.ready("up")
        assert sock.recv(1024).startswith(b"READY=1")
        notifier.close()


def test_without_systemd_every_call_is_a_quiet_no_op() -> None:
    """Run from a terminal (no NOTIFY_SOCKET, or one we cannot use) nothing is sent or raised."""
    for env in ({}, {"NOTIFY_SOCKET": "vsock:2:1234"}):
        notifier = Notifier(env)
        assert not notifier.enabled
        assert not notifier.ready("up")


def test_a_vanished_supervisor_does_not_stop_the_daemon(tmp_path: Path) -> None:
    """When the socket is gone, sending fails quietly (False), never with an exception."""
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert notifier.enabled
    assert not notifier.status("still here")
    assert not notifier.status("still here")


def test_watchdog_period_is_half_of_watchdog_sec_for_this_process() -> None:
    """WATCHDOG_USEC is honoured at half its value, and only when meant for this process."""
    ten_min = str(600 * 1_000_000)
    assert watchdog_period({"WATCHDOG_USEC": ten_min}, 42) == timedelta(minutes=5)
    assert watchdog_period({"WATCHDOG_USEC": ten_min, "WATCHDOG_PID": "42"}, 42) == timedelta(
        minutes=5
    )
    assert watchdog_period({"WATCHDOG_USEC": ten_min, "WATCHDOG_PID": "41"}, 42) is None
    assert watchdog_period({"WATCHDOG_USEC": "0"}, 42) is None
    assert watchdog_period({}, 42) is None
