"""The command tree as scripts and shells see it: `--json` wherever state changes, completion."""

from __future__ import annotations

import shutil
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from watcher.cli.main import main

# Commands that change nothing, so a script gains nothing from a JSON answer about a change
# (those that print data have `--json`, or `--format json`, for reading it).
READ_ONLY = {
    "watch list": "lists the watched trials (--json)",
    "history": "lists a trial's stored versions (--json)",
    "diff": "compares two files or two stored versions (--json)",
    "subscribers": "lists the subscribers (--json)",
    "summary": "summarises a file or a stored trial (--format json)",
    "status": "reads the daemon's status file and the database (--json)",
    "check-config": "validates the settings and prints them (--json)",
    "export changes": "writes the changes out (--format json)",
    "export trials": "writes the trials out (--format json)",
    "export opml": "writes the trials' feeds out as OPML, a format of its own",
}
# Commands that change state but print nothing a script could read.
NO_ANSWER = {
    "run": "the daemon: it runs until stopped, logs each cycle and keeps its summary for "
    "`status --json`",
    "serve": "the web front: it serves until stopped and logs one line per request",
}


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, f"`{name}` is listed but cannot be loaded"
        if isinstance(command, click.Group):
            found |= _commands(command, (*path, name))
        else:
            found[" ".join((*path, name))] = command
    return found


def _has_json(command: click.Command) -> bool:
    return any("--json" in param.opts for param in command.params)


def test_every_command_that_changes_state_has_json() -> None:
    """Walking `trialwatch --help` and each group: every command not listed as read-only (or
    as the daemon) takes `--json`, so a new command must either answer scripts or say why not."""
    commands = _commands(main)
    assert set(READ_ONLY) | set(NO_ANSWER) <= set(commands), "a listed name is gone"
    changing = sorted(set(commands) - set(READ_ONLY) - set(NO_ANSWER))
    assert {"watch add", "watch remove", "check", "subscribe", "unsubscribe"} <= set(changing)
    missing = [name for name in changing if not _has_json(commands[name])]
    assert not missing, f"state-changing commands without --json: {missing}"


def _completion(env: dict[str, str]) -> str:
    """What `trialwatch` prints with click's completion variables set."""
    result = CliRunner().invoke(main, [], prog_name="trialwatch", env=env)
    assert result.exit_code == 0
    return result.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_is_produced(shell: str) -> None:
    """`_TRIALWATCH_COMPLETE=<shell>_source trialwatch` prints the script the README says to
    install; it names the program and click's completion variable."""
    script = _completion({"_TRIALWATCH_COMPLETE": f"{shell}_source"})
    assert "_TRIALWATCH_COMPLETE" in script
    assert "trialwatch" in script


def test_bash_completes_commands_and_options() -> None:
    """Loaded into a real bash, the script registers a completion for `trialwatch`, and the
    answers it asks for name the commands and options a user types."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash on this machine")
    script = _completion({"_TRIALWATCH_COMPLETE": "bash_source"})
    registered = subprocess.run(
        [bash, "-c", f"{script}\ncomplete -p trialwatch"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "_trialwatch_completion" in registered

    def complete(words: str) -> list[str]:
        env = {
            "_TRIALWATCH_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
        }
        return [line.split(",", 1)[1] for line in _completion(env).splitlines()]

    assert "watch" in complete("trialwatch wat")
    assert {"add", "remove", "list"} <= set(complete("trialwatch watch "))
    assert "--verbose" in complete("trialwatch check --")


def test_a_command_loads_only_what_it_runs() -> None:
    """Start-up is most of a quiet `check` at 100,000 trials: running one command does not load
    the web app, the daemon's scheduler or the other commands' modules."""
    probe = (
        "import sys\n"
        "from watcher.cli.main import main\n"
        "try:\n"
        "    main(['check', '--help'], prog_name='trialwatch')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('apscheduler', 'starlette', 'uvicorn', 'watcher.web', 'watcher.cli.serve')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "[]"
