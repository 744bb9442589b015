"""The replay registry over real HTTP: a `ThreadingHTTPServer` on 127.0.0.1 in a thread.

`watcher.registry.replay` decides every answer; this module only carries it over a socket (and
keeps the request log), so the registry client is exercised for real: keep-alive, timeouts,
truncated bodies and dropped connections included. It lives in the package, not the tests,
because `trialwatch demo` and the benchmarks serve it too.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from watcher.registry.replay import API_PREFIX, HISTORY_PREFIX, ReplayRegistry, RequestLog


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a "slow" answer in flight must not hold up stop()

    def __init__(
        self, port: int, registry: ReplayRegistry, record: Callable[[RequestLog], None]
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.registry = registry
        self.record = record
        self.stopping = threading.Event()
        self.round_trip_s = 0.0

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client hangs up (timeouts do that on purpose); shout otherwise."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the client's one connection is reused
    # Buffer the answer and send headers and body together: written apart, Nagle's algorithm
    # and the client's delayed ACK add about 40 ms to every request on a kept-alive connection.
    wbufsize = 64 * 1024

    def do_GET(self) -> None:
        server = cast(_Server, self.server)
        url = urlsplit(self.path)
        reply = server.registry.reply(url.path, url.query)
        if server.round_trip_s:
            time.sleep(server.round_trip_s)
        if reply.delay_s and server.stopping.wait(reply.delay_s):
            self.close_connection = True
            return
        body = reply.body[: len(reply.body) // 2] if reply.transport == "truncated" else reply.body
        sent = 0 if reply.transport == "drop" else len(body)
        status = None if reply.transport == "drop" else reply.status
        # Logged before answering, so a test that has its answer also sees the log entry.
        server.record(
            RequestLog(
                "GET",
                url.path,
                parse_qs(url.query, keep_blank_values=True),
                status,
                sent,
                self.headers.get("User-Agent"),
            )
        )
        if reply.transport != "answer":
            self.close_connection = True
        if reply.transport == "drop":
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is kept in memory (`ReplayServer.requests`), not on stderr."""


class ReplayServer:
    """Serves a `ReplayRegistry` on 127.0.0.1 from a background thread."""

    def __init__(self, registry: ReplayRegistry | None = None, *, port: int = 0) -> None:
        self.registry = registry if registry is not None else ReplayRegistry()
        self._port = port
        self._log: list[RequestLog] = []
        self._log_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The API root, e.g. "http://127.0.0.1:54321/api/v2"."""
        if self._server is None:
            raise RuntimeError("the replay server is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}{API_PREFIX}"

    @property
    def history_url(self) -> str:
        """The history API root, e.g. "http://127.0.0.1:54321/api/int"."""
        if self._server is None:
            raise RuntimeError("the replay server is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}{HISTORY_PREFIX}"

    @property
    def requests(self) -> list[RequestLog]:
        """Every request served since the start or the last `reset_log`, oldest first."""
        with self._log_lock:
            return list(self._log)

    def set_round_trip(self, seconds: float) -> None:
        """Answer every request `seconds` late, as a registry across a network does (on
        127.0.0.1 a request costs well under a millisecond, which flatters chatty clients)."""
        if self._server is None:
            raise RuntimeError("the replay server is not started")
        self._server.round_trip_s = seconds

    def reset_log(self) -> None:
        """Forget the requests seen so far."""
        with self._log_lock:
            self._log.clear()

    def start(self) -> ReplayServer:
        """Bind a port and serve in a background thread."""
        self._server = _Server(self._port, self.registry, self._record)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(0.01,),  # poll interval: how long stop() may wait for the loop to notice
            name="replay-registry",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is None or self._thread is None:
            return
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _record(self, entry: RequestLog) -> None:
        with self._log_lock:
            self._log.append(entry)
