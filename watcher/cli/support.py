"""What every `trialwatch` command shares: settings loaded on demand, the clock, errors.

Command modules import these so each command stays "parse, call one function, print", and a
`WatcherError` always becomes one `Error: …` line (printing itself is `watcher.cli.output`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from watcher.config import Settings, load_settings, preflight
from watcher.core.change import AUDIENCES
from watcher.errors import WatcherError
from watcher.service.wiring import open_store
from watcher.store.database import Store

P = ParamSpec("P")
R = TypeVar("R")


class App:
    """Per-invocation state: settings are loaded only by commands that need them."""

    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """The validated settings (a `ConfigError` here is the command's error)."""
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    def checked_settings(self) -> Settings:
        """The settings, once `preflight` has read the password; each warning one stderr line.

        For the commands that send or check: they stop with exit 78 before storing anything.
        """
        settings = self.settings
        for warning in preflight(settings, os.environ):
            click.echo(f"Warning: {warning}", err=True)
        return settings

    def store(self) -> Store:
        """The database named by the settings."""
        return open_store(self.settings)


def now() -> datetime:
    """The one place the command line reads the clock."""
    return datetime.now(UTC)


def reports_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a `WatcherError` into `Error: …` on stderr and the error's exit code."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except WatcherError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


def audience_option(help_text: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """`--audience patient|coordinator`, patient by default; each command says what it means."""
    return click.option(
        "--audience",
        type=click.Choice(AUDIENCES),
        default="patient",
        show_default=True,
        help=help_text,
    )


pass_app = click.make_pass_decorator(App)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
