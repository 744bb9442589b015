"""Trace the walk of one fetched record through trialwatch's modules.

Run from the checkout: `python tools/trace_walk.py` (add `--daemon` for the daemon's walk,
where the previous version is kept in memory between cycles). It watches and subscribes to one
demo trial against the replay registry, stores its first version, publishes the next one, and
records every call between modules while the poll ingests it: the steps the poll takes (its
calls into other modules, in order) and what the store calls while it saves. The layout issue
used it to show that data passes forward (docs/ARCHITECTURE.md, "the walk of one change").
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import watcher.service.poll as poll
from watcher.config import load_settings
from watcher.registry.replay import ReplayRegistry
from watcher.registry.replay_server import ReplayServer
from watcher.service.check import check_now
from watcher.service.poll import RecentVersions
from watcher.service.wiring import open_store

TRIAL = "NCT06911827"
DEMO = Path(__file__).resolve().parent.parent / "watcher" / "demo_data"


def _module(frame: FrameType | None) -> str:
    return str(frame.f_globals.get("__name__", "")) if frame else ""


def trace(keep_versions: bool) -> list[tuple[str, str, str]]:
    """(caller module, called module, function) for every call between watcher modules while
    the second version of the demo trial is ingested."""
    versions = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(DEMO.glob(f"{TRIAL}__*"))]
    calls: list[tuple[str, str, str]] = []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        callee, caller = _module(frame), _module(frame.f_back)
        if event == "call" and callee != caller and {callee[:7], caller[:7]} == {"watcher"}:
            calls.append((caller, callee, frame.f_code.co_name))

    ingest = poll._ingest

    def traced(*args: Any, **kwargs: Any) -> None:
        sys.setprofile(profile)
        try:
            ingest(*args, **kwargs)
        finally:
            sys.setprofile(None)

    registry = ReplayRegistry({TRIAL: versions[0]})
    state = Path(tempfile.mkdtemp(prefix="trialwatch-walk-"))
    with ReplayServer(registry) as server:
        config = state / "config.toml"
        config.write_text(
            f'[registry]\nbase_url = "{server.base_url}"\nrequests_per_minute = 0\n',
            encoding="utf-8",
        )
        settings = load_settings(config, env={"STATE_DIRECTORY": str(state)})
        start = datetime(2026, 3, 1, tzinfo=UTC)
        kept = RecentVersions() if keep_versions else None
        with open_store(settings) as store:
            store.add_watches([TRIAL], start)
            store.subscribe("reader@example.org", [TRIAL], start)
            check_now(store, settings, start, env={}, recent=kept, deliver=False)
            registry.publish(versions[1])
            poll._ingest = traced  # type: ignore[assignment]
            try:
                later = start + timedelta(days=1)
                check_now(store, settings, later, env={}, recent=kept, deliver=False)
            finally:
                poll._ingest = ingest
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--daemon", action="store_true", help="keep versions between cycles")
    calls = trace(keep_versions=parser.parse_args().daemon)

    def short(name: str) -> str:
        return name.removeprefix("watcher.")

    steps: list[str] = []
    for caller, callee, function in calls:
        step = f"{short(callee)}.{function}"
        if short(caller) == "service.poll" and (not steps or steps[-1] != step):
            steps.append(step)
    saving = sorted(
        {f"{short(callee)}.{function}" for caller, callee, function in calls if "store" in caller}
    )
    print("the poll's steps (its calls into other modules, in order; repeats collapsed):")
    print("\n".join(f"  {step}" for step in steps))
    print(f"what the store calls while saving: {', '.join(saving)}")


if __name__ == "__main__":
    main()
