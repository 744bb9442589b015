"""No command ever shows a Python traceback: every command, under every fault a user can cause.

Each command runs in-process (the real click command line, its real error handling) against a
state directory that is broken in one way: the registry unreachable, the settings file wrong,
the database not a database, the state directory a file. The command may refuse (that is its
job), but only with its own one-line `Error: …` and an exit code; an exception escaping it is
a traceback for a person at a terminal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from watcher.cli.main import main

NCT = "NCT06911827"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# Every command, with arguments a user would type (one per command path).
COMMANDS: dict[str, list[str]] = {
    "watch add": ["watch", "add", NCT],
    "watch remove": ["watch", "remove", NCT],
    "watch list": ["watch", "list"],
    "check": ["check"],
    "check --json": ["check", "--json"],
    "history": ["history", NCT],
    "diff": ["diff", NCT],
    "subscribe": ["subscribe", "pat@example.org", NCT],
    "unsubscribe": ["unsubscribe", "pat@example.org"],
    "unsubscribe --token": ["unsubscribe", "--token", "no-such-token"],
    "subscribers": ["subscribers"],
    "deliver": ["deliver"],
    "digest": ["digest", "--now"],
    "summary": ["summary", NCT],
    "status": ["status"],
    "check-config": ["check-config"],
}


def _unreachable_registry(state: Path) -> str:
    """A watched, subscribed trial, and a registry that refuses every connection (nothing
    listens on port 9)."""
    from watcher.store.database import Store

    with Store(state / "trialwatch.db") as store:
        store.add_watches([NCT], NOW)
        store.subscribe("pat@example.org", [NCT], NOW)
    return (
        '[registry]\nbase_url = "http://127.0.0.1:9/api/v2"\n'
        "timeout_s = 0.5\nmax_retries = 0\nrequests_per_minute = 0\n"
    )


def _broken_settings(state: Path) -> str:
    return "[registry\nbase_url = 3\n"


def _not_a_database(state: Path) -> str:
    (state / "trialwatch.db").write_bytes(b"this is not an SQLite database\n" * 64)
    return ""


def _state_dir_is_a_file(state: Path) -> str:
    state.rmdir()
    state.write_text("a file where the state directory should be", encoding="utf-8")
    return ""


FAULTS: dict[str, Callable[[Path], str]] = {
    "registry unreachable": _unreachable_registry,
    "settings file broken": _broken_settings,
    "database not a database": _not_a_database,
    "state directory is a file": _state_dir_is_a_file,
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("command", COMMANDS)
def test_no_command_shows_a_traceback(tmp_path: Path, fault: str, command: str) -> None:
    """Under each fault each command ends with its own message and exit code, never a traceback."""
    state = tmp_path / "state"
    state.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(FAULTS[fault](state), encoding="utf-8")
    result = CliRunner().invoke(
        main,
        COMMANDS[command],
        env={"TRIALWATCH_CONFIG": str(config), "STATE_DIRECTORY": str(state)},
    )
    escaped = result.exception if not isinstance(result.exception, SystemExit) else None
    assert escaped is None, f"{command} under '{fault}' raised {escaped!r}"
    assert "Traceback" not in result.output + result.stderr
    if result.exit_code != 0:
        lines = result.stderr.strip().splitlines()
        assert lines and lines[-1].startswith("Error: "), result.stderr
