"""The README is the front door: every command it names exists, CI runs its test command."""

from __future__ import annotations

import re
from pathlib import Path

import click

from watcher.cli.main import main
from watcher.config import SETTINGS

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CODE = "\n".join(re.findall(r"```sh\n(.*?)```", README, re.S) + re.findall(r"`([^`\n]+)`", README))
COMMAND = re.compile(r"(?<![\w/.-])trialwatch((?: [a-z][a-z-]+)+)")


def _command_paths() -> set[tuple[str, ...]]:
    """Every command and subcommand path the CLI really has."""
    paths: set[tuple[str, ...]] = set()

    def walk(group: click.Group, prefix: tuple[str, ...]) -> None:
        context = click.Context(group)
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            assert command is not None and command.name == name, f"`{name}` is not its name"
            paths.add((*prefix, name))
            if isinstance(command, click.Group):
                walk(command, (*prefix, name))

    walk(main, ())
    return paths


def _command(name: str) -> click.Command | None:
    return main.get_command(click.Context(main), name)


def test_every_command_in_the_readme_exists() -> None:
    """Each `trialwatch …` the README's code shows names a real command (more words: arguments)."""
    known = _command_paths()
    named = {tuple(m.group(1).split()) for m in COMMAND.finditer(CODE)}
    assert named, "the README names no commands"
    for words in named:
        assert (words[0],) in known, f"README names `trialwatch {' '.join(words)}`"
        if len(words) > 1 and isinstance(_command(words[0]), click.Group):
            assert words[:2] in known, f"README names `trialwatch {' '.join(words)}`"


def test_every_command_is_in_the_readme() -> None:
    """A command a user can run is documented in the README's command table."""
    for path in _command_paths():
        if isinstance(_command(path[0]), click.Group) and len(path) == 1:
            continue
        assert f"trialwatch {' '.join(path)}" in README, (
            f"`trialwatch {' '.join(path)}` is undocumented"
        )


def test_every_config_key_is_documented() -> None:
    """Each declared key appears in config.example.toml, with its section."""
    example = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    for setting in SETTINGS:
        assert re.search(rf"^#?{re.escape(setting.key)} = ", example, re.M), setting.key
        header = f"[[{setting.section}]]" if setting.many else f"[{setting.section}]"
        assert header in example


def test_ci_runs_the_readme_test_command_as_written() -> None:
    """`.ci/run` runs exactly the quick start's test command."""
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
    test_command = next(b.strip() for b in blocks if "pytest" in b and "[test]" in b)
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
