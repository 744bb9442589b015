"""`trialwatch check-config` and `trialwatch demo`: is it set up right, and what does it do."""

from __future__ import annotations

import threading
from pathlib import Path

import click

from watcher.cli.output import emit_json
from watcher.cli.support import App, json_option, now, pass_app, reports_errors
from watcher.config import effective_json, format_effective
from watcher.service.demo import carry_mail, run_demo
from watcher.service.logs import setup_logging


@click.command()
@click.option(
    "--dir",
    "state_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Keep the demo's state here (default: a new temporary directory).",
)
@click.option(
    "--serve",
    is_flag=True,
    help="Then serve its web pages on 127.0.0.1 (a free port, printed) until Ctrl-C.",
)
@json_option
@reports_errors
def demo(state_dir: Path | None, serve: bool, as_json: bool) -> None:
    """Run the whole pipeline offline against a local replay of the registry."""
    if state_dir is not None:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    from watcher.web.server import address, bind  # the web stack only when asked for
    from watcher.web.server import serve as serve_web

    # Bound first, so the demo can say (and link) where its pages will be.
    sock = bind("127.0.0.1", 0) if serve else None
    url = address(sock) if sock else None
    run = run_demo((lambda _: None) if as_json else click.echo, state_dir, web_url=url)
    if as_json:
        emit_json(run.to_json() | ({"web": url} if url else {}))
    if sock is not None:
        setup_logging("warning")  # the demo's screenful stays short: no line per request
        stop = threading.Event()
        carrier = threading.Thread(target=carry_mail, args=(run.settings, stop), daemon=True)
        carrier.start()
        try:
            serve_web(run.settings, sock, now)
        finally:
            stop.set()
            carrier.join()


@click.command("check-config")
@json_option
@pass_app
@reports_errors
def check_config(app: App, as_json: bool) -> None:
    """Validate the settings and print the effective values (secrets masked)."""
    settings = app.checked_settings()
    if as_json:
        emit_json(effective_json(settings))
    else:
        source = settings.source or "built-in defaults"
        click.echo(f"# configuration OK — from {source}")
        click.echo(format_effective(settings))
