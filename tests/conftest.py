"""Shared test helpers: the recorded ClinicalTrials.gov records, servers, the rewritten corpus."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from watcher.registry.client import RegistryClient
from watcher.registry.replay import ReplayRegistry, with_nct_id
from watcher.registry.replay_server import ReplayServer
from watcher.store.database import Store

# The web front's fixtures (`web_site`, `chromium`), in a module of their own.
pytest_plugins = ["web_server"]

TESTS = Path(__file__).parent
FIXTURE_DIRS = (
    TESTS / "fixtures" / "ctgov",
    TESTS.parent / "watcher" / "demo_data",
)


def fixture_path(name: str) -> Path:
    """Path of a recorded study file, wherever in the repository it is kept."""
    for folder in FIXTURE_DIRS:
        candidate = folder / name
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"no fixture named {name} in {', '.join(map(str, FIXTURE_DIRS))}")


def load_fixture(name: str) -> dict[str, Any]:
    """The parsed JSON of a recorded study file."""
    data: dict[str, Any] = json.loads(fixture_path(name).read_text(encoding="utf-8"))
    return data


def plain_words(phrase: str, *, plural: bool = False) -> str:
    """The packaged glossary's plain words for a phrase or abbreviation, so a test of the rules
    does not break when the data is reworded."""
    from watcher.data import load_glossary

    for term in load_glossary().terms:
        phrases = {p.casefold() for p in term.phrases}
        if phrase.casefold() in phrases or phrase in term.abbreviations:
            if not (term.replace and term.plain):  # else a test would compare with ""
                raise LookupError(f"{phrase!r} is kept as written: it has no plain words")
            return (term.plain_plural or term.plain) if plural else term.plain
    raise KeyError(phrase)


def all_fixture_records() -> list[Path]:
    """Every recorded single-study file, sorted by name."""
    return sorted(p for folder in FIXTURE_DIRS for p in folder.glob("NCT*.json"))


def version_chains() -> dict[str, list[Path]]:
    """Every recorded version of each trial, oldest first (the date is in the file name)."""
    chains: dict[str, list[Path]] = {}
    for path in all_fixture_records():
        chains.setdefault(path.name.split("__")[0], []).append(path)
    return {nct: sorted(paths) for nct, paths in chains.items()}


def consecutive_versions() -> list[tuple[Path, Path]]:
    """Every pair of consecutive recorded versions of one trial."""
    return [pair for paths in version_chains().values() for pair in itertools.pairwise(paths)]


@pytest.fixture
def record() -> Any:
    """Load a recorded study by file name: `record("NCT0…json")`."""
    return load_fixture


DEMO_DIR = FIXTURE_DIRS[1]


def demo_versions(nct_id: str) -> list[dict[str, Any]]:
    """The shipped demo versions of one trial, oldest first."""
    return [
        json.loads(p.read_text(encoding="utf-8")) for p in sorted(DEMO_DIR.glob(f"{nct_id}__*"))
    ]


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    """A real replay registry on 127.0.0.1, empty until a test publishes records."""
    with ReplayServer(ReplayRegistry()) as server:
        yield server


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A real SQLite store in tmp_path (test modules with other needs define their own)."""
    with Store(tmp_path / "trialwatch.db") as opened:
        yield opened


@pytest.fixture
def client(replay: ReplayServer) -> Iterator[RegistryClient]:
    """The real registry client against the `replay` server, impatient and unthrottled."""
    with RegistryClient(
        replay.base_url,
        user_agent="trialwatch-tests",
        timeout_s=2.0,
        requests_per_minute=0,
        max_retries=0,
    ) as registry:
        yield registry


class Trialwatch:
    """Runs the real `trialwatch` command line in-process against a private state directory."""

    def __init__(self, state_dir: Path, config: Path) -> None:
        self.state_dir = state_dir
        self.config = config
        self.runner = CliRunner()

    def __call__(self, *args: str, expect: int = 0) -> Result:
        from watcher.cli.main import (
            main,  # imported late: collecting pure-module tests needs no CLI
        )

        result = self.runner.invoke(
            main,
            list(args),
            env={"TRIALWATCH_CONFIG": str(self.config), "STATE_DIRECTORY": str(self.state_dir)},
            catch_exceptions=False,
        )
        assert result.exit_code == expect, result.output + result.stderr
        return result

    def json(self, *args: str, expect: int = 0) -> Any:
        return json.loads(self(*args, "--json", expect=expect).stdout)


def write_config(path: Path, base_url: str, extra: str = "") -> Path:
    """A settings file pointing at a replay server, with fast, impatient registry settings."""
    path.write_text(
        f"""[registry]
base_url = "{base_url}"
timeout_s = 1.0
requests_per_minute = 0
max_retries = 0
{extra}""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def trialwatch(tmp_path: Path, replay: ReplayServer) -> Trialwatch:
    """The CLI configured against the `replay` server, with its state under tmp_path."""
    config = write_config(tmp_path / "config.toml", replay.base_url)
    return Trialwatch(tmp_path / "state", config)


class MailSink:
    """An aiosmtpd handler that keeps what it accepts and answers as a test tells it to.

    `answers` is a queue of SMTP replies for the next DATA commands ("421 …", "550 …"); when it
    is empty every message is accepted with 250.
    """

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []  # the bytes received, as a mail program would read them
        self.envelopes: list[tuple[str, list[str]]] = []
        self.answers: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.answers:
            answer = self.answers.pop(0)
            if not answer.startswith("2"):
                return answer
        parsed = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.raw.append(envelope.content)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


def free_port() -> int:
    """A TCP port nobody listens on right now (aiosmtpd 1.4 cannot bind port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(sink: MailSink) -> Iterator[int]:
    """Run a real SMTP server (aiosmtpd) on 127.0.0.1 for `sink`; yields its port."""
    from aiosmtpd.controller import Controller

    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[tuple[MailSink, int]]:
    """A real SMTP server on 127.0.0.1 (aiosmtpd); yields its sink and port."""
    sink = MailSink()
    with serving(sink) as port:
        yield sink, port


class GatedSink(MailSink):
    """A mail server that can hold a client at MAIL FROM (before any message data), so a test
    can kill the sender while a message is queued but not yet sent."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()
        self.held = threading.Event()

    async def handle_MAIL(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.held.set()
        while not self.gate.is_set():
            await asyncio.sleep(0.02)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"


@pytest.fixture
def gated_smtp_server() -> Iterator[tuple[GatedSink, int]]:
    """Like `smtp_server`, with a gate the test can close to hold senders at MAIL FROM."""
    sink = GatedSink()
    with serving(sink) as port:
        try:
            yield sink, port
        finally:
            sink.gate.set()  # let a held session go, or stopping the server waits for it


# -- the plain-English corpus and independent oracles of a faithful rewrite ----------------------


@pytest.fixture(scope="session")
def plain_corpus() -> list[Any]:
    """Every recorded trial's eligibility items rewritten in plain English, once per test run."""
    from watcher.core.rewrite import rewrite_criteria
    from watcher.data import load_glossary

    glossary = load_glossary()
    items: list[Any] = []
    for path in all_fixture_records():
        protocol = json.loads(path.read_text(encoding="utf-8"))["protocolSection"]
        text = protocol.get("eligibilityModule", {}).get("eligibilityCriteria")
        items += rewrite_criteria(text, glossary)
    return items


def publish_clones(replay: ReplayServer, count: int) -> dict[str, dict[str, Any]]:
    """`count` trials cloned from two recorded ones (NCT9…), the eighth with a control
    character in its title to clean, published on the replay registry."""
    sources = [demo_versions("NCT06911827")[0], demo_versions("NCT05935098")[0]]
    records = {}
    for i in range(count):
        nct_id = f"NCT9{i:07d}"
        raw = with_nct_id(sources[i % 2], nct_id)
        if i == 7:
            raw["protocolSection"]["identificationModule"]["briefTitle"] += "\x07 (cleaned)"
        records[nct_id] = raw
    replay.registry.publish(*records.values())
    return records
