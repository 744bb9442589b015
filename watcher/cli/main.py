"""The `trialwatch` command line: the top-level group and the list of commands.

Every expected failure is a `WatcherError`; it is printed as one `Error: …` line on stderr and
the process exits with the error's code (78 for configuration, 2 for bad arguments, 1 for the
rest), never with a traceback. Data goes to stdout, in text for people or `--json` for scripts.
"""

from __future__ import annotations

from pathlib import Path

import click

from watcher import __version__
from watcher.cli import (
    api_keys,
    backfill,
    channel,
    check,
    daemon,
    export,
    history,
    notify,
    search,
    serve,
    setup,
    summary,
    timeline,
    watch,
)
from watcher.cli.support import App


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


# One module per command group; each command is "parse, call one function, print".
for _command in (
    watch.watch,
    check.check,
    history.history,
    history.diff,
    timeline.timeline,
    backfill.backfill,
    notify.subscribe,
    search.search,
    notify.unsubscribe,
    notify.subscribers,
    notify.deliver,
    notify.digest,
    summary.summary,
    daemon.run,
    daemon.status,
    serve.serve,
    setup.check_config,
    setup.demo,
    api_keys.api_key,
    export.export,
    channel.channel,
):
    main.add_command(_command)
