"""A drain sends everything due over one SMTP session, reconnects when the server drops it,
and stops at its deadline leaving the rest for the next drain, untouched."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from conftest import MailSink, serving
from test_outbox import T0, email, settings_for, smtp

from watcher.config import Settings
from watcher.delivery.outbox import BATCH, deliver_due
from watcher.service import jobs
from watcher.store.database import Store


class SessionSink(MailSink):
    """A mail server that also counts the sessions its clients open (one EHLO each)."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions = 0

    async def handle_EHLO(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        return responses


@pytest.fixture
def sink() -> Iterator[tuple[SessionSink, int]]:
    server = SessionSink()
    with serving(server) as port:
        yield server, port


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "state" / "t.db") as opened:
        yield opened


def pending(store: Store) -> int:
    (count,) = store.db.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()
    return int(count)


@pytest.mark.slow
def test_one_drain_sends_more_than_a_batch_over_one_session(
    store: Store, sink: tuple[SessionSink, int], tmp_path: Path
) -> None:
    server, port = sink
    count = BATCH + 20
    store.enqueue([email(f"m{n}", to=f"r{n}@example.org") for n in range(count)], T0)
    report = deliver_due(store, smtp(tmp_path, port), T0, {})
    assert (report.sent, report.unfinished) == (count, False)
    assert len(server.messages) == count
    assert server.sessions == 1
    assert pending(store) == 0


def test_a_session_the_server_closes_is_opened_again_for_the_next_message(
    store: Store, sink: tuple[SessionSink, int], tmp_path: Path
) -> None:
    server, port = sink
    server.answers = ["421 4.3.2 Closing this session, come back"]
    store.enqueue([email(f"m{n}", to=f"r{n}@example.org") for n in range(3)], T0)
    report = deliver_due(store, smtp(tmp_path, port), T0, {})
    assert (report.sent, report.deferred) == (2, 1)  # the first waits for its retry
    assert [m["To"] for m in server.messages] == ["r1@example.org", "r2@example.org"]
    assert server.sessions == 2


def test_at_its_deadline_a_drain_stops_and_leaves_the_rest_for_the_next(
    store: Store, sink: tuple[SessionSink, int], tmp_path: Path
) -> None:
    server, port = sink
    store.enqueue([email(f"m{n}", to=f"r{n}@example.org") for n in range(6)], T0)
    ticks = iter(range(10_000))

    def clock() -> datetime:  # a second passes each time a drain looks at the clock
        return T0 + timedelta(seconds=next(ticks))

    settings = smtp(tmp_path, port)
    first = deliver_due(store, settings, T0, {}, clock, deadline=T0 + timedelta(seconds=8))
    assert first.unfinished and 0 < first.sent < 6
    assert pending(store) == 6 - first.sent
    claimed = store.db.execute("SELECT COUNT(*) FROM outbox WHERE claimed_by IS NOT NULL")
    assert claimed.fetchone() == (0,)  # released: the next drain need not wait for a lease
    second = deliver_due(store, settings, T0, {})
    assert (second.sent, second.unfinished) == (6 - first.sent, False)
    assert len(server.messages) == 6


class Daemon:
    """The part of the running daemon the delivery job uses: settings, the store, `run_soon`."""

    def __init__(self, settings: Settings, path: Path) -> None:
        self.settings, self.env, self.path = settings, {}, path
        self.soon: list[str] = []

    def open_store(self) -> Store:
        return Store(self.path)

    def now(self) -> datetime:
        return T0

    def run_soon(self, job_id: str) -> None:
        self.soon.append(job_id)


def test_the_daemon_s_delivery_job_goes_on_at_once_while_more_is_due(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut short by its deadline (here: none at all), the job asks to run again at once; a
    run that empties the outbox does not."""
    store.enqueue([email(f"m{n}", to=f"r{n}@example.org") for n in range(3)], T0)
    daemon = Daemon(settings_for(tmp_path, ""), store.path)
    monkeypatch.setattr(jobs, "DRAIN_FOR", timedelta(0))
    jobs.deliver(cast(jobs.JobContext, daemon))
    assert (daemon.soon, pending(store)) == (["deliver"], 3)
    monkeypatch.undo()
    jobs.deliver(cast(jobs.JobContext, daemon))
    assert (daemon.soon, pending(store)) == (["deliver"], 0)
