"""The `trialwatch` command line: the top-level group and the list of commands.

Every expected failure is a `WatcherError`; it is printed as one `Error: …` line on stderr and
the process exits with the error's code (78 for configuration, 2 for bad arguments, 1 for the
rest), never with a traceback. Data goes to stdout, in text for people or `--json` for scripts.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

import click

from watcher import __version__
from watcher.cli.support import App

# Each command's name and where it is defined: a command's module is imported only when that
# command runs (or `--help` lists them all), so `trialwatch check` does not load the web app,
# the daemon's scheduler or the exports. Start-up is most of a quiet cycle at 100,000 trials.
COMMANDS = {
    "watch": "watch:watch",
    "check": "check:check",
    "history": "history:history",
    "diff": "history:diff",
    "timeline": "timeline:timeline",
    "backfill": "backfill:backfill",
    "subscribe": "notify:subscribe",
    "search": "search:search",
    "unsubscribe": "notify:unsubscribe",
    "subscribers": "notify:subscribers",
    "deliver": "notify:deliver",
    "digest": "notify:digest",
    "summary": "summary:summary",
    "run": "daemon:run",
    "status": "daemon:status",
    "serve": "serve:serve",
    "check-config": "setup:check_config",
    "demo": "setup:demo",
    "api-key": "api_keys:api_key",
    "export": "export:export",
    "channel": "channel:channel",
}


class _Commands(click.Group):
    """The top-level group, loading each command's module on first use (`COMMANDS`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = COMMANDS.get(cmd_name)
        if where is None:
            return None
        module, name = where.split(":")
        command = getattr(import_module(f"watcher.cli.{module}"), name)
        assert isinstance(command, click.Command)  # a declaration, checked by the CLI tests
        return command


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trialwatch")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="TRIALWATCH_CONFIG",
    help="TOML settings file (default: $TRIALWATCH_CONFIG, else built-in defaults).",
)
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """Watch ClinicalTrials.gov records and say, in plain English, what changed."""
    ctx.obj = App(config_path)
