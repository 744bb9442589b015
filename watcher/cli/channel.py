"""`trialwatch channel list/test`: the chat channels (`[[channels]]`, sent through Apprise)."""

from __future__ import annotations

import os
import sys

import click

from watcher.cli.output import emit_json
from watcher.cli.support import App, json_option, pass_app, reports_errors
from watcher.service.channels import list_channels, send_test


@click.group()
def channel() -> None:
    """The chat channels of [[channels]]: what each hears, a test message."""


@channel.command("list")
@json_option
@pass_app
@reports_errors
def channel_list(app: App, as_json: bool) -> None:
    """Show each channel: its URL (secrets masked), kinds, audience, trials, health."""
    infos = list_channels(app.settings, os.environ)
    if as_json:
        emit_json([info.to_json() for info in infos])
        return
    if not infos:
        click.echo("No [[channels]] in the settings file (see README, Chat channels).")
    for info in infos:
        c, health = info.channel, info.health
        follows = [*c.trials, *(f"search {name!r}" for name in c.searches)]
        click.echo(f"{c.name}  {info.url}")
        click.echo(f"  audience: {c.audience}; kinds: {', '.join(c.kinds) or 'all'}")
        click.echo(f"  trials:   {', '.join(follows) or 'every watched trial'}")
        click.echo(
            f"  health:   {health.state}: {health.sent} sent, {health.pending} waiting, "
            f"{health.failed} failed"
            + (f"; last error: {health.last_error}" if health.failing and health.last_error else "")
        )


@channel.command("test")
@click.argument("name")
@json_option
@pass_app
@reports_errors
def channel_test(app: App, name: str, as_json: bool) -> None:
    """Send a test message to channel NAME now (not through the outbox)."""
    error = send_test(app.settings, name, os.environ)
    if as_json:
        emit_json({"channel": name, "ok": error is None, "error": error})
    elif error is None:
        click.echo(f"ok: channel {name} accepted the test message")
    else:
        click.echo(f"Error: channel {name}: {error}", err=True)
    if error is not None:
        sys.exit(1)
