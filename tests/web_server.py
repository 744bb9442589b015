"""Fixtures for the web front's tests: a real `trialwatch serve` and a real Chromium.

Loaded by `tests/conftest.py` (`pytest_plugins`), so any test module asks for them by name:

- `web_site` (module scope): the demo's state (its trials, their stored changes, a made-up
  subscriber, the feeds and the Maildir) served by `trialwatch serve` started as a subprocess on
  127.0.0.1 (port 0: the port it prints), with the replay registry on 127.0.0.1 answering the
  demo trials' latest versions. `WebSite.url`, `.state_dir`, `.config`, `.log()` (what the
  server wrote to stderr), `.demo` (the `DemoRun`).
- `start_web(config, state_dir)`: the same server for a state a test made itself.
- `chromium` (module scope): headless Chromium and its driver from the system packages, through
  Selenium; skips with the reason when they are not installed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from watcher.registry.replay import ReplayRegistry
from watcher.registry.replay_server import ReplayServer
from watcher.service.demo import DemoRun, demo_versions, run_demo

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
STARTED = re.compile(r"web front on (http://\S+)")


@dataclass(frozen=True)
class Server:
    """A running `trialwatch serve`: its URL, its process ID and its stderr (the log)."""

    url: str
    stderr: Path
    pid: int

    def log(self) -> str:
        return self.stderr.read_text(encoding="utf-8", errors="replace")


@contextmanager
def start_web(config: Path, state_dir: Path, timeout_s: float = 20.0) -> Iterator[Server]:
    """`trialwatch --config CONFIG serve` as a subprocess, until it answers /healthz; SIGTERM
    at the end, and it must exit 0 (the graceful stop)."""
    stderr = state_dir / "serve.stderr"
    env = {**os.environ, "STATE_DIRECTORY": str(state_dir), "HOME": str(state_dir)}
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "watcher", "--config", str(config), "serve"],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
        )
    server = None
    try:
        deadline = time.monotonic() + timeout_s
        while server is None:
            found = STARTED.search(stderr.read_text(encoding="utf-8", errors="replace"))
            if found:
                server = Server(found.group(1), stderr, process.pid)
            elif process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"trialwatch serve did not start:\n{stderr.read_text()}")
            else:
                time.sleep(0.05)
        while True:
            try:
                if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"/healthz never answered:\n{server.log()}")
            time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise AssertionError("trialwatch serve did not stop on SIGTERM") from None
    # Uvicorn stops gracefully (requests in flight finish, the app's shutdown closes the
    # database), then re-raises the SIGTERM it caught, as systemd expects.
    assert process.returncode in (0, -signal.SIGTERM), stderr.read_text()


@dataclass(frozen=True)
class WebSite:
    """The demo's state served by a real `trialwatch serve` (see the module docstring)."""

    url: str
    state_dir: Path
    config: Path
    demo: DemoRun
    replay: ReplayServer
    server: Server

    def log(self) -> str:
        return self.server.log()


def serve_config(config: Path, registry_url: str, extra: str = "") -> None:
    """Point the demo's settings at a live replay registry and listen on a free port."""
    text = config.read_text(encoding="utf-8")
    text = re.sub(r'base_url = "[^"]*"', f'base_url = "{registry_url}"', text, count=1)
    config.write_text(f'{text}\n[web]\nlisten = "127.0.0.1:0"\n{extra}', encoding="utf-8")


@pytest.fixture(scope="module")
def web_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebSite]:
    """The demo's state, served (see the module docstring)."""
    state_dir = tmp_path_factory.mktemp("web-site")
    demo = run_demo(lambda _: None, state_dir)
    latest = {nct: versions[-1] for nct, versions in demo_versions().items()}
    with ReplayServer(ReplayRegistry(latest)) as replay:
        serve_config(demo.config, replay.base_url)
        with start_web(demo.config, state_dir) as server:
            yield WebSite(server.url, state_dir, demo.config, demo, replay, server)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Headless Chromium from the system packages, driven by its chromedriver."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    binary = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        pytest.skip(
            "no Chromium and chromedriver on PATH: "
            "apt-get install -y chromium chromium-driver (.ci/run does)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=driver_path)
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()
