"""Running the web front: bind the `[web] listen` address, then serve with uvicorn.

The socket is bound here, before uvicorn starts, so an address already in use is one `Error:`
line naming the setting (not a log record and exit 1), and a caller that asked for port 0 (the
demo, the tests) knows the port before the first request. Uvicorn stops gracefully on SIGTERM
and SIGINT: it stops accepting, lets requests in flight finish (at most `GRACE_S`), then runs
the app's shutdown, which closes the database connections.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import datetime

import uvicorn

from watcher.config import Settings
from watcher.errors import ConfigError
from watcher.web.app import create_app
from watcher.web.context import WebContext

GRACE_S = 10


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: any free port), or a ConfigError saying why."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            [
                f"[web].listen {host}:{port}: cannot listen there ({exc.strerror}); choose "
                "another address or port, or stop what uses it"
            ]
        ) from exc
    sock.set_inheritable(True)
    return sock


def address(sock: socket.socket) -> str:
    """`http://host:port` of a bound socket, as a reader types it into a browser."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def serve(settings: Settings, sock: socket.socket, clock: Callable[[], datetime]) -> None:
    """Serve the web front on `sock` until SIGTERM or SIGINT."""
    config = uvicorn.Config(
        create_app(WebContext(settings, clock)),
        log_config=None,  # the process's logging, set up by the command (service/logs.py)
        access_log=False,  # ours redacts token paths (web/logs.py); uvicorn's would not
        proxy_headers=True,  # X-Forwarded-Proto from the proxy on 127.0.0.1: https links
        server_header=False,
        timeout_graceful_shutdown=GRACE_S,
        lifespan="on",
    )
    uvicorn.Server(config).run(sockets=[sock])
