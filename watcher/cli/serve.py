"""`trialwatch serve`: the web front, on `[web] listen`, until SIGTERM."""

from __future__ import annotations

import click

from watcher.cli.support import App, now, pass_app, reports_errors
from watcher.service.logs import setup_logging


@click.command()
@pass_app
@reports_errors
def serve(app: App) -> None:
    """Serve the web pages and feeds on [web] listen (default 127.0.0.1:8080) until SIGTERM."""
    # Imported here: every other command starts without loading the web stack.
    from watcher.web.server import address, bind
    from watcher.web.server import serve as run_server

    settings = app.settings
    setup_logging(settings.log.level)
    sock = bind(*settings.web.listen)
    click.echo(f"trialwatch web front on {address(sock)} (stop with Ctrl-C)", err=True)
    run_server(settings, sock, now)
